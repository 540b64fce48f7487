"""The notifier: delivers outbox rows, never drops one (SPEC §7, INV-2/14/15).

A row is claimed with a lease (status 'sending', attempts + 1) under FOR UPDATE SKIP
LOCKED, sent outside any transaction, then finished with a conditional update keyed on
its attempt number, so a worker that lost its lease cannot overwrite a newer attempt.
Transient failures come back with exponential backoff and full jitter; permanent
ones, and the last allowed attempt, go 'dead' with their reason. A sweeper returns
rows whose worker died (expired lease) and re-enqueues rows whose enqueue was lost.
"""

from __future__ import annotations

import asyncio
import queue
import random
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from incidents.models import EventKind, IncidentEvent
from notifications.channels import get_channel_type
from notifications.channels.base import Delivery, Message, SendContext
from notifications.models import Channel, Notification, NotificationStatus
from notifications.secrets import channel_secrets
from pulse.db import SYSTEM_DB
from pulse.logging import get_logger
from pulse.realtime import publish_on_commit

log = get_logger(__name__)
NOTIFIER_ACTOR = "system:notifier"
RETRYABLE = (NotificationStatus.PENDING, NotificationStatus.FAILED)


@dataclass(frozen=True)
class Report:
    claimed: int
    sent: int
    retrying: int
    dead: int


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]; never sooner than
    a receiver's Retry-After."""
    ceiling = min(settings.NOTIFY_BACKOFF_CAP, settings.NOTIFY_BACKOFF_BASE * 2 ** (attempt - 1))
    delay = random.uniform(0, ceiling)  # noqa: S311 - jitter, not security
    return max(delay, retry_after or 0.0)


def claim(*, ids: Sequence[uuid.UUID] | None = None, limit: int = 100) -> list[Notification]:
    now = timezone.now()
    with transaction.atomic(using=SYSTEM_DB):
        due = Notification.all_orgs.select_for_update(skip_locked=True).filter(
            status__in=RETRYABLE, next_attempt_at__lte=now
        )
        if ids is not None:
            due = due.filter(id__in=list(ids))
        chosen = list(due.order_by("next_attempt_at").values_list("id", flat=True)[:limit])
        if not chosen:
            return []
        Notification.all_orgs.filter(id__in=chosen).update(
            status=NotificationStatus.SENDING,
            attempts=F("attempts") + 1,
            lease_expires_at=now + timedelta(seconds=settings.NOTIFY_LEASE_SECONDS),
        )
    return list(Notification.all_orgs.filter(id__in=chosen).select_related("channel"))


async def _send_all(
    rows: list[Notification], ctx: SendContext, done: Callable[[Notification, Delivery], None]
) -> None:
    """Send every row concurrently; ``done`` is called as each one finishes."""
    limit = asyncio.Semaphore(settings.NOTIFY_CONCURRENCY)

    async def one(row: Notification) -> None:
        channel = row.channel
        if not channel.enabled:
            done(
                row,
                Delivery(
                    ok=False,
                    permanent=True,
                    error=f"channel disabled: {channel.disabled_reason or 'by staff'}",
                ),
            )
            return
        try:
            kind = get_channel_type(channel.kind)
            secrets = await asyncio.to_thread(channel_secrets, channel)
            message = Message(
                notification_id=str(row.id),
                idempotency_key=row.idempotency_key,
                event=row.event,
                payload=row.payload,
                attempt=row.attempts,
            )
            async with limit:
                outcome = await kind.send(message, channel.config, secrets, ctx)
        except Exception as exc:  # a bug in one channel must not sink the batch
            log.warning("notify.crashed", notification_id=str(row.id), exc_info=True)
            outcome = Delivery(ok=False, error=f"internal error: {type(exc).__name__}")
        done(row, outcome)

    await asyncio.gather(*(one(row) for row in rows))


class _Finisher:
    """Marks rows on its own thread (own connection) the moment each send completes,
    so a worker killed mid-batch has already recorded everything it delivered."""

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[tuple[Notification, Delivery] | None] = queue.SimpleQueue()
        self.results: list[str] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="notify-finisher", daemon=True)
        self.thread.start()

    def put(self, row: Notification, outcome: Delivery) -> None:
        self.queue.put((row, outcome))

    def close(self) -> list[str]:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.results

    def _loop(self) -> None:
        try:
            while (item := self.queue.get()) is not None:
                if self.error is None:
                    self.results.append(_finish(*item))
        except BaseException as exc:  # the lease brings unfinished rows back
            self.error = exc
        finally:
            connections.close_all()


def _context() -> SendContext:
    return SendContext(
        allow_cidrs=tuple(settings.EGRESS_ALLOW_CIDRS),
        production=settings.IS_PROD,
        timeout=float(settings.NOTIFY_TIMEOUT_SECONDS),
        public_url=settings.PUBLIC_URL,
    )


def _finish(row: Notification, outcome: Delivery) -> str:
    now = timezone.now()
    mine = Notification.all_orgs.filter(
        id=row.id, status=NotificationStatus.SENDING, attempts=row.attempts
    )
    common = {"lease_expires_at": None, "last_status_code": outcome.status_code}
    if outcome.ok:
        with transaction.atomic(using=SYSTEM_DB):
            if (
                mine.update(
                    status=NotificationStatus.SENT,
                    sent_at=now,
                    last_error="",
                    external_id=outcome.external_id[:100],
                    **common,
                )
                and row.incident_id
            ):
                IncidentEvent.all_orgs.create(
                    org_id=row.org_id,
                    incident_id=row.incident_id,
                    kind=EventKind.NOTIFIED,
                    actor_label=NOTIFIER_ACTOR,
                    message=f"{row.event} sent to {row.channel.name} ({row.channel.kind})",
                    data={"notification": str(row.id), "attempts": row.attempts},
                )
                publish_on_commit(
                    row.org_id,
                    "incident.updated",
                    {"incident_id": row.incident_id, "monitor_id": row.monitor_id},
                    using=SYSTEM_DB,
                )
        return NotificationStatus.SENT
    error = outcome.error[:2000] or "delivery failed"
    if outcome.disable_channel:
        Channel.all_orgs.filter(id=row.channel_id).update(
            enabled=False, disabled_reason=f"disabled after: {error}"[:300]
        )
    if outcome.permanent or row.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
        mine.update(status=NotificationStatus.DEAD, last_error=error, **common)
        log.warning("notify.dead", notification_id=str(row.id), attempts=row.attempts, error=error)
        return NotificationStatus.DEAD
    delay = backoff_seconds(row.attempts, outcome.retry_after)
    mine.update(
        status=NotificationStatus.FAILED,
        last_error=error,
        next_attempt_at=now + timedelta(seconds=delay),
        **common,
    )
    return NotificationStatus.FAILED


def deliver(*, ids: Sequence[uuid.UUID] | None = None, limit: int = 100) -> Report:
    rows = claim(ids=ids, limit=limit)
    if not rows:
        return Report(0, 0, 0, 0)
    finisher = _Finisher()
    try:
        asyncio.run(_send_all(rows, _context(), finisher.put))
    finally:
        finished = finisher.close()
    return Report(
        claimed=len(rows),
        sent=finished.count(NotificationStatus.SENT),
        retrying=finished.count(NotificationStatus.FAILED),
        dead=finished.count(NotificationStatus.DEAD),
    )


def release_expired_leases() -> int:
    """Rows whose worker died mid-send go back to the queue; their attempt counted."""
    now = timezone.now()
    return Notification.all_orgs.filter(
        status=NotificationStatus.SENDING, lease_expires_at__lt=now
    ).update(
        status=NotificationStatus.FAILED,
        next_attempt_at=now,
        lease_expires_at=None,
        last_error="delivery interrupted (worker lost); retrying",
    )


def due_ids(limit: int = 5000) -> list[uuid.UUID]:
    return list(
        Notification.all_orgs.filter(Q(status__in=RETRYABLE), next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )
