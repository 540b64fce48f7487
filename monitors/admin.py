"""Support admin: monitors across orgs, read-only (changes go through the product, whose
services validate, schedule and audit them)."""

from django.contrib import admin

from monitors.models import Monitor
from pulse.admin import ReadOnlyAdmin


@admin.register(Monitor)
class MonitorAdmin(ReadOnlyAdmin):
    list_display = ("name", "org", "type", "target", "status", "paused", "last_check_at")
    list_filter = ("type", "status", "paused")
    search_fields = ("name", "target", "org__name")
    exclude = ("heartbeat_token", "machine_state")
