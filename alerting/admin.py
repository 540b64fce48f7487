from django.contrib import admin

from alerting.models import AlertRule, MaintenanceWindow
from pulse.admin import ReadOnlyAdmin


@admin.register(AlertRule)
class AlertRuleAdmin(ReadOnlyAdmin):
    list_display = ("name", "org", "scope", "enabled", "repeat_minutes")


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(ReadOnlyAdmin):
    list_display = ("name", "org", "enabled", "starts_at", "ends_at", "cron")
