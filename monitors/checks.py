"""One batch of due checks: load the monitors, probe or evaluate each at its due
time, and record the results in bulk (SPEC §5.2-5.3)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from django.db import transaction
from django.utils import timezone

from monitors import events
from monitors.models import Monitor, MonitorType
from monitors.probes.base import Outcome, ProbeResult, ProbeSpec
from monitors.probes.runner import run_probes_sync
from pulse.db import SYSTEM_DB
from pulse.db.checks import ResultRow, record_results, set_next_check

PROBED = {MonitorType.HTTP, MonitorType.TCP, MonitorType.ICMP, MonitorType.DNS}


@dataclass(frozen=True)
class BatchReport:
    probed: int
    recorded: int


def evaluate_push(monitor: Monitor, due_at: datetime) -> ProbeResult:
    """A heartbeat is OK when a ping arrived within interval + grace before the due
    time (or since the last cron occurrence), and no /fail came after it."""
    grace = timedelta(seconds=int(monitor.config.get("grace_seconds", 0)))
    last_ping, last_fail = monitor.last_ping_at, monitor.last_fail_at
    if last_fail and (last_ping is None or last_fail > last_ping):
        return ProbeResult(
            Outcome.FAIL,
            None,
            error="the job reported failure (/fail ping)",
            details={"last_fail_at": last_fail.isoformat()},
        )
    cron = monitor.config.get("cron")
    if cron:
        tz = ZoneInfo(monitor.config.get("tz") or "UTC")
        expected = croniter(cron, (due_at - grace).astimezone(tz)).get_prev(datetime)
        window_start = expected
    else:
        window_start = due_at - timedelta(seconds=monitor.interval_seconds) - grace
    if last_ping is not None and last_ping > window_start:
        return ProbeResult(Outcome.OK, None, details={"last_ping_at": last_ping.isoformat()})
    since = f"since {last_ping.isoformat(timespec='seconds')}" if last_ping else "ever"
    return ProbeResult(
        Outcome.FAIL,
        None,
        error=f"no heartbeat {since} (expected by {window_start.isoformat(timespec='seconds')}"
        f" + {int(grace.total_seconds())} s grace)",
    )


def next_cron_due(monitor: Monitor, after: datetime) -> datetime:
    tz = ZoneInfo(monitor.config.get("tz") or "UTC")
    grace = timedelta(seconds=int(monitor.config.get("grace_seconds", 0)))
    nxt = croniter(monitor.config["cron"], after.astimezone(tz)).get_next(datetime)
    return nxt + grace


def _spec(monitor: Monitor) -> ProbeSpec:
    return ProbeSpec(
        monitor_id=monitor.id,
        type=monitor.type,
        target=monitor.target,
        timeout=float(monitor.timeout_seconds),
        config=monitor.config,
        latency_degraded_ms=monitor.latency_degraded_ms,
    )


def run_batch(claims: Sequence[tuple[uuid.UUID, datetime]]) -> BatchReport:
    due = dict(claims)
    monitors = list(Monitor.all_orgs.filter(id__in=list(due), paused=False))
    probed = [m for m in monitors if m.type in PROBED]
    outcomes: dict[uuid.UUID, tuple[ProbeResult, datetime]] = {}
    if probed:
        start_at = [due[m.id].timestamp() for m in probed]
        results = run_probes_sync([_spec(m) for m in probed], start_at=start_at)
        finished = timezone.now()
        for monitor, result in zip(probed, results, strict=True):
            outcomes[monitor.id] = (result, finished)
    cron_next: list[tuple[uuid.UUID, datetime]] = []
    for monitor in monitors:
        if monitor.type == MonitorType.PUSH:
            outcomes[monitor.id] = (evaluate_push(monitor, due[monitor.id]), timezone.now())
            if monitor.config.get("cron"):
                cron_next.append((monitor.id, next_cron_due(monitor, due[monitor.id])))
        elif monitor.type == MonitorType.METRIC:
            from monitors.metric_eval import evaluate_metric

            outcomes[monitor.id] = (evaluate_metric(monitor, due[monitor.id]), timezone.now())
    rows = [
        ResultRow(
            monitor_id=monitor.id,
            org_id=monitor.org_id,
            due_at=due[monitor.id],
            ts=ts,
            outcome=str(result.outcome),
            latency_ms=result.latency_ms,
            status_code=result.status_code,
            error=result.error,
            details=result.details,
        )
        for monitor in monitors
        for result, ts in [outcomes[monitor.id]]
    ]
    with transaction.atomic(using=SYSTEM_DB):
        accepted = record_results(rows)
        set_next_check(cron_next)
        events.check_results_recorded(accepted)
    return BatchReport(probed=len(rows), recorded=len(accepted))
