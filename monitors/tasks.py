"""Celery tasks of the check cycle. Thin: ids in, a service call, nothing else.

``schedule_tick`` runs every second from beat; it claims due monitors in batches and
sends one ``run_checks`` task per batch (never one per monitor, and no per-monitor
periodic task rows).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from celery import shared_task
from django.conf import settings

from monitors.checks import run_batch
from pulse.db import checks as check_sql
from pulse.db.partitions import drop_expired_partitions, ensure_partitions
from pulse.logging import get_logger

log = get_logger(__name__)


def _dispatch(claims: list[check_sql.Claim]) -> None:
    run_checks.apply_async(
        kwargs={"batch": [[str(c.monitor_id), c.due_at.isoformat()] for c in claims]},
        queue="checks",
    )


@shared_task(ignore_result=True)
def schedule_tick() -> int:
    """Claim everything due within the look-ahead and hand it out in batches."""
    batch_size = settings.CHECK_BATCH_SIZE
    sent = 0
    lost = check_sql.sweep_lost(limit=batch_size * 10, lease_grace=settings.CHECK_LEASE_GRACE)
    for start in range(0, len(lost), batch_size):
        _dispatch(lost[start : start + batch_size])
    if lost:
        log.warning("scheduler.relaunched_lost", count=len(lost))
    for _ in range(settings.CHECK_MAX_BATCHES_PER_TICK):
        claims = check_sql.claim_due(
            limit=batch_size,
            lookahead=settings.CHECK_LOOKAHEAD_SECONDS,
            lease_grace=settings.CHECK_LEASE_GRACE,
        )
        if claims:
            _dispatch(claims)
            sent += len(claims)
        if len(claims) < batch_size:
            break
    return sent


@shared_task(ignore_result=True, acks_late=True)
def run_checks(*, batch: list[list[str]]) -> None:
    claims = [(uuid.UUID(mid), datetime.fromisoformat(due)) for mid, due in batch]
    report = run_batch(claims)
    if report.recorded < report.probed:
        log.info("checks.duplicates_dropped", probed=report.probed, recorded=report.recorded)


@shared_task(ignore_result=True)
def maintain_partitions() -> None:
    """Make the next week's day partitions and drop those past retention."""
    for table, keep in (
        ("check_results", settings.CHECK_RESULTS_RETENTION_DAYS),
        ("metric_samples", settings.METRIC_SAMPLES_RETENTION_DAYS),
    ):
        made = ensure_partitions(table, days_back=1, days_ahead=7)
        dropped = drop_expired_partitions(table, keep_days=keep)
        log.info("partitions.maintained", table=table, created=made, dropped=dropped)
