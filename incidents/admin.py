from django.contrib import admin

from incidents.models import Incident, IncidentEvent
from pulse.admin import ReadOnlyAdmin


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ("title", "org", "status", "opened_at", "acknowledged_at", "resolved_at")
    list_filter = ("status",)
    search_fields = ("title", "org__name")


@admin.register(IncidentEvent)
class IncidentEventAdmin(ReadOnlyAdmin):
    list_display = ("ts", "org", "incident", "kind", "actor_label")
    list_filter = ("kind",)
