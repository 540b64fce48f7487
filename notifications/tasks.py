"""Notifier tasks. ``deliver`` is enqueued right after the commit that wrote outbox
rows; ``sweep_outbox`` (beat, every few seconds) catches everything else: leases of
dead workers, lost enqueues, retries whose time has come."""

from __future__ import annotations

import uuid

from celery import shared_task
from django.conf import settings

from notifications import delivery

BATCH = 100


@shared_task(ignore_result=True, acks_late=True)
def deliver(*, ids: list[str] | None = None) -> None:
    wanted = [uuid.UUID(i) for i in ids] if ids is not None else None
    if wanted is None:
        delivery.deliver(limit=BATCH)
        return
    for start in range(0, len(wanted), BATCH):
        delivery.deliver(ids=wanted[start : start + BATCH], limit=BATCH)


@shared_task(ignore_result=True)
def sweep_outbox() -> int:
    delivery.release_expired_leases()
    due = delivery.due_ids(limit=settings.NOTIFY_SWEEP_LIMIT)
    for start in range(0, len(due), BATCH):
        deliver.delay(ids=[str(i) for i in due[start : start + BATCH]])
    return len(due)
