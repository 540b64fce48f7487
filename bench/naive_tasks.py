"""The naive baseline's task: one Celery task per check, a blocking ``requests.get``
and one INSERT per result (plus the monitor's last-result UPDATE), as a simple
implementation would do it. Loaded into a worker with ``--include bench.naive_tasks``
(queue ``naive``); used by the bench only."""

from __future__ import annotations

import time
import uuid
from datetime import datetime

import requests
from celery import shared_task
from django.db import connections
from django.utils import timezone

from monitors.models import Monitor, MonitorStatus
from pulse.db import SYSTEM_DB

_INSERT = (
    "INSERT INTO check_results (ts, org_id, monitor_id, due_at, outcome, latency_ms, "
    "status_code, error) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)


@shared_task(name="bench.naive_check", ignore_result=True)
def naive_check(monitor_id: str, due_at: str) -> None:
    monitor = Monitor.all_orgs.get(pk=uuid.UUID(monitor_id))
    started = time.perf_counter()
    code: int | None = None
    error = ""
    try:
        response = requests.get(monitor.target, timeout=monitor.timeout_seconds)
        code = response.status_code
        outcome = "ok" if 200 <= code < 300 else "fail"
    except requests.RequestException as exc:
        outcome, error = "fail", str(exc)[:2000]
    latency = (time.perf_counter() - started) * 1000
    now = timezone.now()
    with connections[SYSTEM_DB].cursor() as cursor:
        cursor.execute(
            _INSERT,
            [
                now,
                monitor.org_id,
                monitor.id,
                datetime.fromisoformat(due_at),
                outcome,
                latency,
                code,
                error,
            ],
        )
    Monitor.all_orgs.filter(pk=monitor.pk).update(
        last_check_at=now,
        last_outcome=outcome,
        last_latency_ms=latency,
        last_status_code=code,
        last_error=error,
        status=MonitorStatus.UP if outcome == "ok" else MonitorStatus.DOWN,
    )
