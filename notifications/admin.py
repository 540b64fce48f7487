from django.contrib import admin

from notifications.models import Channel, Notification
from pulse.admin import ReadOnlyAdmin


@admin.register(Channel)
class ChannelAdmin(ReadOnlyAdmin):
    list_display = ("name", "org", "kind", "enabled", "disabled_reason")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "org__name")
    exclude = ("secrets",)  # encrypted, and never shown anyway


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "org", "event", "channel", "status", "attempts", "last_error")
    list_filter = ("status", "event")
    exclude = ("payload",)
