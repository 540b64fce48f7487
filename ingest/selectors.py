"""Reads for the hosts & metrics screen, tenant first (the default managers filter by the
org in context; RLS underneath). Listings come from the per-metric summary rows, never
from a scan of the samples."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from ingest.charts import Chart, ThresholdLine, build_chart
from ingest.models import Host, HostMetric
from monitors.metric_eval import describe
from monitors.models import Monitor, MonitorType
from pulse import tenancy
from pulse.db.metrics import series

RANGES = {
    "1h": (timedelta(hours=1), timedelta(seconds=30)),
    "24h": (timedelta(hours=24), timedelta(minutes=10)),
}
MAX_CHARTS = 24
LIST_METRIC_NAMES = 6


@dataclass
class HostRow:
    host: Host
    metric_names: list[str] = field(default_factory=list)
    metric_count: int = 0
    samples: int = 0


def host_list() -> list[HostRow]:
    """Every host of the org with its metric names and sample counts (two queries)."""
    rows = {h.id: HostRow(h) for h in Host.objects.order_by("name", "id")}
    metrics = HostMetric.objects.filter(host_id__in=list(rows)).order_by("host_id", "name")
    for host_id, name, samples in metrics.values_list("host_id", "name", "samples"):
        row = rows[host_id]
        row.metric_count += 1
        row.samples += samples
        if len(row.metric_names) < LIST_METRIC_NAMES:
            row.metric_names.append(name)
    return list(rows.values())


def host_get(*, host_id: uuid.UUID | str) -> Host:
    """A host of the current org; another org's id raises DoesNotExist (→ 404)."""
    return Host.objects.get(id=host_id)


def host_metrics(*, host: Host) -> list[HostMetric]:
    return list(HostMetric.objects.filter(host=host).order_by("name"))


def metric_monitors(*, host: Host) -> list[Monitor]:
    return list(
        Monitor.objects.filter(type=MonitorType.METRIC, config__host=host.name).order_by("name")
    )


@dataclass
class HostCharts:
    charts: list[Chart]
    since: datetime
    until: datetime
    hidden: int  # metrics not charted (over MAX_CHARTS); the table still lists them


def host_charts(
    *,
    host: Host,
    metrics: list[HostMetric],
    monitors: list[Monitor],
    range_key: str,
    only: str | None = None,
    now: datetime | None = None,
) -> HostCharts:
    """A chart per metric for the range (monitored metrics first, then by name), with
    a threshold line per metric monitor on it."""
    window, bucket = RANGES[range_key]
    until = now or timezone.now()
    since = until - window
    by_metric: dict[str, list[ThresholdLine]] = {}
    for monitor in monitors:
        by_metric.setdefault(str(monitor.config.get("metric")), []).append(
            ThresholdLine(
                value=float(monitor.config.get("threshold", 0)),
                label=f"{monitor.name}: alert when {describe(monitor.config)}",
            )
        )
    names = [m.name for m in metrics]
    latest = {m.name: m.last_value for m in metrics}
    if only is not None:
        names = [n for n in names if n == only]
    names.sort(key=lambda n: (n not in by_metric, n))
    shown = names[:MAX_CHARTS]
    data, label_sets = series(
        org_id=tenancy.require_org_id(),
        host_id=host.id,
        names=shown,
        since=since,
        until=until,
        bucket=bucket,
    )
    charts = [
        build_chart(
            name=name,
            buckets=data[name],
            since=since,
            until=until,
            bucket=bucket,
            thresholds=by_metric.get(name, []),
            series_count=label_sets[name],
            latest=latest.get(name),
        )
        for name in shown
    ]
    return HostCharts(charts=charts, since=since, until=until, hidden=len(names) - len(shown))
