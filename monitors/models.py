from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from pulse.db.models import AllOrgsManager, TenantManager, TenantModel


class MonitorType(models.TextChoices):
    HTTP = "http", "HTTP(S)"
    TCP = "tcp", "TCP port"
    ICMP = "icmp", "Ping (ICMP)"
    DNS = "dns", "DNS record"
    PUSH = "push", "Heartbeat (push)"
    METRIC = "metric", "Host metric"


class MonitorStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    UP = "up", "Up"
    DEGRADED = "degraded", "Degraded"
    DOWN = "down", "Down"
    PAUSED = "paused", "Paused"
    MAINTENANCE = "maintenance", "Maintenance"


class Outcome(models.TextChoices):
    OK = "ok", "OK"
    SLOW = "slow", "Slow"
    FAIL = "fail", "Fail"


ALERT_SETTINGS = (
    "fail_threshold",
    "recover_threshold",
    "window",
    "degraded_ratio",
    "down_ratio",
    "flap_high",
    "flap_low",
)


def new_heartbeat_token() -> str:
    return secrets.token_urlsafe(24)


class Monitor(TenantModel):
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=10, choices=MonitorType.choices)
    target = models.CharField(max_length=2000, blank=True)
    interval_seconds = models.PositiveIntegerField(default=60)
    timeout_seconds = models.PositiveIntegerField(default=10)
    # Type-specific settings and assertions, normalized by monitors.config.
    config = models.JSONField(default=dict, blank=True)
    latency_degraded_ms = models.PositiveIntegerField(null=True, blank=True)
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    regions = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    status = models.CharField(
        max_length=12, choices=MonitorStatus.choices, default=MonitorStatus.PENDING
    )
    paused = models.BooleanField(default=False)

    # Scheduling: next_check_at = previous due time + interval (phase fixed by the
    # per-monitor jitter at creation). A claimed due time sits in inflight_due_at until
    # its result is recorded; past lease_expires_at the sweeper hands it out again.
    next_check_at = models.DateTimeField(default=timezone.now)
    inflight_due_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    last_check_at = models.DateTimeField(null=True, blank=True)
    last_outcome = models.CharField(max_length=4, choices=Outcome.choices, blank=True)
    last_latency_ms = models.FloatField(null=True, blank=True)
    last_status_code = models.IntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    # The flap-detecting state machine (alerting.machine): per-monitor settings and
    # its compact persisted state (consecutive counts, last W outcomes, flapping).
    fail_threshold = models.PositiveSmallIntegerField(default=3)
    recover_threshold = models.PositiveSmallIntegerField(default=2)
    window = models.PositiveSmallIntegerField(default=20)
    degraded_ratio = models.FloatField(default=0.2)
    down_ratio = models.FloatField(default=0.5)
    flap_high = models.FloatField(default=0.30)
    flap_low = models.FloatField(default=0.25)
    machine_state = models.JSONField(default=dict, blank=True)
    flapping = models.BooleanField(default=False)

    heartbeat_token = models.CharField(max_length=64, unique=True, default=new_heartbeat_token)
    last_ping_at = models.DateTimeField(null=True, blank=True)
    last_start_at = models.DateTimeField(null=True, blank=True)
    last_fail_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager["Monitor"]()
    all_orgs = AllOrgsManager["Monitor"]()

    class Meta:
        db_table = "monitors"
        indexes = [
            models.Index(fields=["org", "status"], name="monitors_org_status"),
            models.Index(
                fields=["next_check_at"],
                name="monitors_due",
                condition=models.Q(paused=False),
            ),
            models.Index(
                fields=["lease_expires_at"],
                name="monitors_lease",
                condition=models.Q(inflight_due_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def enabled(self) -> bool:
        return not self.paused

    def snapshot(self) -> dict[str, Any]:
        """The editable fields, for audit diffs."""
        return {
            "name": self.name,
            "type": self.type,
            "target": self.target,
            "interval_seconds": self.interval_seconds,
            "timeout_seconds": self.timeout_seconds,
            "config": self.config,
            "latency_degraded_ms": self.latency_degraded_ms,
            "tags": list(self.tags),
            "regions": list(self.regions),
            "paused": self.paused,
            **{key: getattr(self, key) for key in ALERT_SETTINGS},
        }


class CheckResult(models.Model):
    """One probe result. The table is range-partitioned by day on ``ts`` (created in
    migration SQL; partitions made ahead and dropped past retention by a periodic
    task), so Django sees it through a composite primary key."""

    pk = models.CompositePrimaryKey("ts", "id")
    id = models.BigIntegerField()
    ts = models.DateTimeField()
    org = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    monitor = models.ForeignKey(
        Monitor, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    region = models.CharField(max_length=50, default="default")
    due_at = models.DateTimeField()
    outcome = models.CharField(max_length=4, choices=Outcome.choices)
    latency_ms = models.FloatField(null=True)
    status_code = models.IntegerField(null=True)
    error = models.TextField(blank=True)
    details = models.JSONField(default=dict)

    objects = TenantManager["CheckResult"]()
    all_orgs = AllOrgsManager["CheckResult"]()

    class Meta:
        db_table = "check_results"
        managed = False

    def __str__(self) -> str:
        return f"{self.monitor_id} {self.outcome} at {self.ts.isoformat()}"

    @property
    def lag_seconds(self) -> float:
        return (self.ts - self.due_at).total_seconds()


class Grain(models.TextChoices):
    MINUTE = "m", "minute"
    HOUR = "h", "hour"


class UptimeRollup(TenantModel):
    """Checks per monitor per minute and per hour: the basis of uptime figures and
    charts, kept far longer than raw results."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="+")
    grain = models.CharField(max_length=1, choices=Grain.choices)
    bucket = models.DateTimeField()
    checks = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    slow = models.PositiveIntegerField(default=0)
    latency_sum = models.FloatField(default=0)
    latency_count = models.PositiveIntegerField(default=0)
    latency_min = models.FloatField(null=True)
    latency_max = models.FloatField(null=True)

    objects = TenantManager["UptimeRollup"]()
    all_orgs = AllOrgsManager["UptimeRollup"]()

    class Meta:
        db_table = "uptime_rollups"
        constraints = [
            models.UniqueConstraint(
                fields=["monitor", "bucket", "grain"], name="uptime_rollups_monitor_bucket_grain"
            )
        ]

    @property
    def latency_avg(self) -> float | None:
        return self.latency_sum / self.latency_count if self.latency_count else None


def bucket_start(ts: datetime, grain: str) -> datetime:
    if grain == Grain.HOUR:
        return ts.replace(minute=0, second=0, microsecond=0)
    return ts.replace(second=0, microsecond=0)
