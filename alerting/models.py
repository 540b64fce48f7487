from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone as dj_timezone

from pulse.db.models import AllOrgsManager, TenantManager, TenantModel


class MonitorTransition(TenantModel):
    """Append-only state changes per monitor: the basis of uptime reports and the
    monitor page. Flapping starting or stopping is recorded here too (from == to)."""

    immutable_rows = True

    monitor = models.ForeignKey(
        "monitors.Monitor", on_delete=models.CASCADE, related_name="transitions"
    )
    ts = models.DateTimeField(default=dj_timezone.now)
    from_status = models.CharField(max_length=12)
    to_status = models.CharField(max_length=12)
    reason = models.TextField(blank=True)
    event = models.CharField(max_length=20, blank=True)  # the machine's event, if any
    # No cascade: transitions are never updated (not even to clear this when an
    # incident goes with its monitor), and they go with the monitor themselves.
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.DO_NOTHING,
        null=True,
        db_constraint=False,
        blank=True,
        related_name="+",
    )

    objects = TenantManager["MonitorTransition"]()
    all_orgs = AllOrgsManager["MonitorTransition"]()

    class Meta:
        db_table = "monitor_transitions"
        indexes = [models.Index(fields=["monitor", "ts"], name="monitor_transitions_monitor_ts")]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class RuleEvent(models.TextChoices):
    DOWN = "down", "Down"
    DEGRADED = "degraded", "Degraded"
    RECOVERED = "recovered", "Recovered"
    FLAPPING = "flapping", "Flapping started/stopped"


class MonitorScope(models.TextChoices):
    ALL = "all", "All monitors"
    TAG = "tag", "Monitors with a tag"
    LIST = "list", "Chosen monitors"


class AlertRule(TenantModel):
    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    scope = models.CharField(max_length=4, choices=MonitorScope.choices, default=MonitorScope.ALL)
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    monitors = models.ManyToManyField(
        "monitors.Monitor", blank=True, related_name="+", through="AlertRuleMonitor"
    )
    events = ArrayField(models.CharField(max_length=10, choices=RuleEvent.choices), default=list)
    channels = models.ManyToManyField(
        "notifications.Channel", related_name="rules", through="AlertRuleChannel"
    )
    # Re-notify an unacknowledged down incident this often (None: never).
    repeat_minutes = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)

    objects = TenantManager["AlertRule"]()
    all_orgs = AllOrgsManager["AlertRule"]()

    class Meta:
        db_table = "alert_rules"

    def __str__(self) -> str:
        return self.name


class MaintenanceWindow(TenantModel):
    """Mutes alerts for chosen monitors: one-off (starts_at..ends_at) or recurring (a
    cron expression in a time zone, each occurrence lasting duration_minutes)."""

    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    all_monitors = models.BooleanField(default=False)
    monitors = models.ManyToManyField(
        "monitors.Monitor", blank=True, related_name="+", through="MaintenanceWindowMonitor"
    )
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    cron = models.CharField(max_length=100, blank=True)
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    created_at = models.DateTimeField(default=dj_timezone.now)

    objects = TenantManager["MaintenanceWindow"]()
    all_orgs = AllOrgsManager["MaintenanceWindow"]()

    class Meta:
        db_table = "maintenance_windows"

    def __str__(self) -> str:
        return self.name


# Link tables carry org_id too, so row-level security covers them like every other
# tenant table (a plain many-to-many table would be readable across orgs).
class AlertRuleMonitor(TenantModel):
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE)
    monitor = models.ForeignKey("monitors.Monitor", on_delete=models.CASCADE, related_name="+")

    class Meta:
        db_table = "alert_rule_monitors"
        constraints = [
            models.UniqueConstraint(fields=["rule", "monitor"], name="alert_rule_monitors_uniq")
        ]


class AlertRuleChannel(TenantModel):
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE)
    channel = models.ForeignKey("notifications.Channel", on_delete=models.CASCADE, related_name="+")

    class Meta:
        db_table = "alert_rule_channels"
        constraints = [
            models.UniqueConstraint(fields=["rule", "channel"], name="alert_rule_channels_uniq")
        ]


class MaintenanceWindowMonitor(TenantModel):
    window = models.ForeignKey(MaintenanceWindow, on_delete=models.CASCADE)
    monitor = models.ForeignKey("monitors.Monitor", on_delete=models.CASCADE, related_name="+")

    class Meta:
        db_table = "maintenance_window_monitors"
        constraints = [
            models.UniqueConstraint(
                fields=["window", "monitor"], name="maintenance_window_monitors_uniq"
            )
        ]
