"""Pushed host metrics (SPEC §3 ``metrics``): the hosts that report, one summary row per
(host, metric) for cheap listings, and the raw samples in a day-partitioned table."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from pulse.db.models import AllOrgsManager, TenantManager, TenantModel


class Host(TenantModel):
    """A machine (or anything) that pushes metrics, known by the name its agent sends."""

    name = models.CharField(max_length=255)
    labels = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager["Host"]()
    all_orgs = AllOrgsManager["Host"]()

    class Meta:
        db_table = "hosts"
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="hosts_org_name")]

    def __str__(self) -> str:
        return self.name


class HostMetric(TenantModel):
    """What a host reports, kept current at ingest so that listing hosts and metrics
    never scans the samples (at 5,000 samples/s a day holds 400 million rows)."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="metrics")
    name = models.CharField(max_length=200)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    last_value = models.FloatField()
    samples = models.BigIntegerField(default=0)

    objects = TenantManager["HostMetric"]()
    all_orgs = AllOrgsManager["HostMetric"]()

    class Meta:
        db_table = "host_metrics"
        constraints = [
            models.UniqueConstraint(fields=["host", "name"], name="host_metrics_host_name")
        ]

    def __str__(self) -> str:
        return f"{self.host_id}/{self.name}"


class MetricSample(models.Model):
    """One pushed value. The table is range-partitioned by day on ``ts`` (created in
    migration SQL, like check_results), so Django sees it through a composite key."""

    pk = models.CompositePrimaryKey("ts", "id")
    id = models.BigIntegerField()
    ts = models.DateTimeField()
    org = models.ForeignKey(
        "accounts.Organization", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    host = models.ForeignKey(
        Host, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    name = models.CharField(max_length=200)
    labels = models.JSONField(default=dict)
    value = models.FloatField()

    objects = TenantManager["MetricSample"]()
    all_orgs = AllOrgsManager["MetricSample"]()

    class Meta:
        db_table = "metric_samples"
        managed = False

    def __str__(self) -> str:
        return f"{self.name}={self.value} at {self.ts.isoformat()}"
