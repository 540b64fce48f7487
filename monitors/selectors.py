"""Reads for monitors, tenant first (the default manager filters by the org in
context). Figures come from rollups, not raw results, so they stay cheap."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from monitors.models import CheckResult, Grain, Monitor, UptimeRollup

UPTIME_WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def monitor_list(
    *,
    status: str | None = None,
    type: str | None = None,
    tag: str | None = None,
    search: str | None = None,
) -> QuerySet[Monitor]:
    monitors = Monitor.objects.order_by("name", "id")
    if status:
        monitors = monitors.filter(status=status)
    if type:
        monitors = monitors.filter(type=type)
    if tag:
        monitors = monitors.filter(tags__contains=[tag.lower()])
    if search:
        monitors = monitors.filter(Q(name__icontains=search) | Q(target__icontains=search))
    return monitors


def monitor_get(*, monitor_id: uuid.UUID | str) -> Monitor:
    """A monitor of the current org; another org's id raises DoesNotExist (→ 404)."""
    return Monitor.objects.get(id=monitor_id)


def status_counts() -> dict[str, int]:
    rows = Monitor.objects.values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def all_tags() -> list[str]:
    tags: set[str] = set()
    for row in Monitor.objects.values_list("tags", flat=True):
        tags.update(row)
    return sorted(tags)


@dataclass(frozen=True)
class Uptime:
    checks: int
    failures: int

    @property
    def percent(self) -> float | None:
        """None when there is no data: unknown, not 100 %."""
        if not self.checks:
            return None
        return 100.0 * (self.checks - self.failures) / self.checks


def uptime(
    monitor_ids: list[uuid.UUID], window: timedelta, now: datetime | None = None
) -> dict[uuid.UUID, Uptime]:
    since = (now or timezone.now()) - window
    grain = Grain.MINUTE if window <= timedelta(hours=24) else Grain.HOUR
    rows = (
        UptimeRollup.objects.filter(monitor_id__in=monitor_ids, grain=grain, bucket__gte=since)
        .values("monitor_id")
        .annotate(checks=Sum("checks"), failures=Sum("failures"))
    )
    found = {r["monitor_id"]: Uptime(r["checks"] or 0, r["failures"] or 0) for r in rows}
    return {mid: found.get(mid, Uptime(0, 0)) for mid in monitor_ids}


def uptime_summary(monitor: Monitor) -> dict[str, float | None]:
    return {
        name: uptime([monitor.id], window)[monitor.id].percent
        for name, window in UPTIME_WINDOWS.items()
    }


@dataclass(frozen=True)
class Bucket:
    start: datetime
    checks: int
    failures: int
    slow: int
    latency_avg: float | None
    latency_max: float | None
    latency_min: float | None = None

    @property
    def state(self) -> str:
        if not self.checks:
            return "empty"
        if self.failures == self.checks:
            return "down"
        if self.failures or self.slow:
            return "degraded"
        return "up"


def buckets(monitor_id: uuid.UUID, *, grain: str, since: datetime) -> list[Bucket]:
    rows = UptimeRollup.objects.filter(
        monitor_id=monitor_id, grain=grain, bucket__gte=since
    ).order_by("bucket")
    return [
        Bucket(r.bucket, r.checks, r.failures, r.slow, r.latency_avg, r.latency_max, r.latency_min)
        for r in rows
    ]


def sparkline_series(
    monitor_ids: list[uuid.UUID], *, hours: int = 1
) -> dict[uuid.UUID, list[float | None]]:
    """Average latency per minute over the last ``hours`` for each monitor (oldest first),
    one query for the whole list."""
    since = timezone.now() - timedelta(hours=hours)
    series: dict[uuid.UUID, list[float | None]] = {mid: [] for mid in monitor_ids}
    rows = (
        UptimeRollup.objects.filter(
            monitor_id__in=monitor_ids, grain=Grain.MINUTE, bucket__gte=since
        )
        .order_by("bucket")
        .values_list("monitor_id", "latency_sum", "latency_count")
    )
    for monitor_id, total, count in rows:
        series[monitor_id].append(total / count if count else None)
    return series


def recent_checks(monitor_id: uuid.UUID, *, limit: int = 50) -> list[CheckResult]:
    # The partitioned table is scanned newest first through (monitor_id, ts DESC).
    since = timezone.now() - timedelta(days=2)
    return list(
        CheckResult.objects.filter(monitor_id=monitor_id, ts__gte=since).order_by("-ts")[:limit]
    )
