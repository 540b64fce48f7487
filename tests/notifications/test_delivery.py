"""The notifier against a real local receiver: retries with backoff, dead letters,
manual retry, Retry-After, 410, leases, and the kill -9 fault test (SPEC §7)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import suppress
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.utils import timezone

from accounts.audit import Actor
from accounts.models import Role
from notifications import delivery
from notifications.models import Channel, Notification
from notifications.outbox import notification_retry
from notifications.services import channel_create
from notifications.tasks import sweep_outbox
from pulse import tenancy
from tests import live
from tests.conftest import Member
from tests.notifications.peers import HookReceiver


@pytest.fixture(scope="module")
def hooks() -> Iterator[HookReceiver]:
    with HookReceiver() as receiver:
        yield receiver


@pytest.fixture(autouse=True)
def _fast_backoff(settings: Any) -> None:
    settings.NOTIFY_BACKOFF_BASE = 0.01
    settings.NOTIFY_BACKOFF_CAP = 0.05
    settings.NOTIFY_MAX_ATTEMPTS = 4


def webhook(owner: Member, hooks: HookReceiver, mode: str, rest: str = "hook") -> Channel:
    with tenancy.org_context(owner.org.id):
        channel = channel_create(
            actor=Actor(user=owner.user),
            role=Role.OWNER,
            data={
                "kind": "webhook",
                "name": f"hook {mode}",
                "secrets": {"url": hooks.url(mode, rest)},
            },
        )
    hooks.signing_secrets.append(_secret(channel))
    return channel


def _secret(channel: Channel) -> str:
    from notifications.secrets import channel_secrets

    return str(channel_secrets(channel)["secret"])


def outbox(owner: Member, channel: Channel, count: int = 1) -> list[Notification]:
    rows = [
        Notification(
            org_id=owner.org.id,
            idempotency_key=uuid.uuid4().hex + uuid.uuid4().hex,
            channel=channel,
            event_id=uuid.uuid4(),
            event="down",
            payload={"type": "monitor.down", "monitor": {"name": f"m{i}"}, "check": {}},
        )
        for i in range(count)
    ]
    return Notification.all_orgs.bulk_create(rows)


def fresh(row: Notification) -> Notification:
    return Notification.all_orgs.get(id=row.id)


def wait_until_due(row: Notification) -> None:
    """Until the row's backoff has run out (the notifier compares with the clock)."""
    due = fresh(row).next_attempt_at
    live.wait_for(lambda: timezone.now() >= due, timeout=30, interval=0.01)


def test_a_delivered_row_is_sent_once_and_signed(owner: Member, hooks: HookReceiver) -> None:
    channel = webhook(owner, hooks, "ok")
    [row] = outbox(owner, channel)
    report = delivery.deliver()
    assert (report.claimed, report.sent) == (1, 1)
    row = fresh(row)
    assert row.status == "sent" and row.attempts == 1 and row.sent_at
    [hook] = [h for h in hooks.received if h.headers.get("webhook-id") == row.idempotency_key]
    assert hook.verified is True
    assert delivery.deliver().claimed == 0  # nothing left: never sent twice


def test_an_always_failing_receiver_backs_off_to_dead_then_a_manual_retry_sends(
    owner: Member, hooks: HookReceiver
) -> None:
    channel = webhook(owner, hooks, "fail")
    [row] = outbox(owner, channel)
    schedule = []
    for _ in range(10):
        delivery.deliver()
        current = fresh(row)
        schedule.append((current.status, current.attempts))
        if current.status == "dead":
            break
        wait_until_due(row)
    assert schedule == [("failed", 1), ("failed", 2), ("failed", 3), ("dead", 4)]
    dead = fresh(row)
    assert "HTTP 500" in dead.last_error and dead.last_status_code == 500
    # The receiver is fixed; staff retry the dead row and it goes out.
    Channel.all_orgs.filter(id=channel.id).update(enabled=True)
    from notifications.secrets import channel_secrets, seal_secrets

    current_channel = Channel.all_orgs.get(id=channel.id)
    secrets = channel_secrets(current_channel)
    secrets["url"] = hooks.url("ok")
    seal_secrets(current_channel, secrets)
    current_channel.save(using="system")
    with tenancy.org_context(owner.org.id):
        notification_retry(notification=dead, actor=Actor(user=owner.user), role=Role.ADMIN)
    delivery.deliver()
    assert fresh(row).status == "sent"


def test_backoff_is_exponential_with_full_jitter(settings: Any) -> None:
    settings.NOTIFY_BACKOFF_BASE = 2.0
    settings.NOTIFY_BACKOFF_CAP = 60.0
    for attempt, ceiling in [(1, 2.0), (3, 8.0), (5, 32.0), (9, 60.0)]:
        delays = [delivery.backoff_seconds(attempt) for _ in range(300)]
        assert min(delays) >= 0 and max(delays) <= ceiling
        assert max(delays) > ceiling * 0.8  # jitter spans the range
    assert delivery.backoff_seconds(1, retry_after=30) >= 30


def test_429_honours_retry_after(owner: Member, hooks: HookReceiver) -> None:
    [row] = outbox(owner, webhook(owner, hooks, "limited"))
    started = timezone.now()
    delivery.deliver()
    row = fresh(row)
    assert row.status == "failed" and row.last_status_code == 429
    assert row.next_attempt_at >= started + timedelta(seconds=7)


def test_a_permanent_4xx_is_dead_at_once_and_410_disables_the_channel(
    owner: Member, hooks: HookReceiver
) -> None:
    [bad] = outbox(owner, webhook(owner, hooks, "bad"))
    gone_channel = webhook(owner, hooks, "gone")
    [gone, queued] = outbox(owner, gone_channel, 2)
    delivery.deliver(ids=[bad.id, gone.id])
    assert (fresh(bad).status, fresh(bad).attempts) == ("dead", 1)
    assert fresh(gone).status == "dead"
    channel = Channel.all_orgs.get(id=gone_channel.id)
    assert not channel.enabled and "410" in channel.disabled_reason
    delivery.deliver(ids=[queued.id])
    assert fresh(queued).status == "dead" and "channel disabled" in fresh(queued).last_error


def test_an_expired_lease_is_sent_again_and_a_stale_finish_is_ignored(
    owner: Member, hooks: HookReceiver
) -> None:
    [row] = outbox(owner, webhook(owner, hooks, "ok"))
    [claimed] = delivery.claim()  # a worker takes it ... and dies
    Notification.all_orgs.filter(id=row.id).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert delivery.release_expired_leases() == 1
    assert delivery.deliver().sent == 1
    # The dead worker's late answer cannot overwrite the newer attempt.
    from notifications.channels.base import Delivery

    assert delivery._finish(claimed, Delivery(ok=False, error="late")) in ("failed", "dead")
    row = fresh(row)
    assert row.status == "sent" and row.attempts == 2


def test_200_notifications_survive_the_notifier_being_killed_five_times(
    owner: Member, hooks: HookReceiver
) -> None:
    channel = webhook(owner, hooks, "delay", "100")
    rows = outbox(owner, channel, 200)
    keys = {r.idempotency_key for r in rows}
    # 200 sends of 100 ms, 5 at a time: ~4 s of work, so every kill lands mid-batch.
    env = {"PULSE_NOTIFY_LEASE_SECONDS": "2", "PULSE_NOTIFY_CONCURRENCY": "5"}
    kills = 0

    def progressed(sent_before: int) -> bool:
        return len(hooks.for_mode("delay")) > sent_before

    while kills < 5:
        with live.worker(f"notifier{kills}", queues="notifications", env=env) as proc:
            # Some way into the batch (not a fixed time: a busy machine starts slowly).
            got_some = partial(progressed, len(hooks.for_mode("delay")))
            sweep_outbox()  # enqueue everything due
            live.wait_for(got_some, timeout=60)
            live.kill_group(proc)  # kill -9: mid-send, leases held
            kills += 1
    ids = [r.id for r in rows]
    unfinished = Notification.all_orgs.filter(id__in=ids).exclude(status="sent").count()
    assert unfinished > 0  # the kills really interrupted the work
    with live.worker("notifier-final", queues="notifications", env=env), suppress(TimeoutError):
        # The statuses below say what is missing if this runs out.
        live.wait_for(
            lambda: (
                sweep_outbox() >= 0
                and Notification.all_orgs.filter(id__in=ids, status="sent").count() == 200
            ),
            timeout=180,
            interval=0.5,
        )
    statuses = Counter(
        Notification.all_orgs.filter(id__in=[r.id for r in rows]).values_list("status", flat=True)
    )
    assert statuses == {"sent": 200}  # 0 lost, none dead
    received = [h.headers["webhook-id"] for h in hooks.for_mode("delay")]
    effects = set(received)  # the receiver dedupes on webhook-id
    assert effects == keys  # every notification had its effect exactly once
    assert all(h.verified for h in hooks.for_mode("delay"))
    duplicates = len(received) - len(effects)
    print(
        f"\nfault test: 200 sent, {kills} kills, {unfinished} unfinished after the kills, "
        f"{duplicates} duplicate deliveries deduped by webhook-id"
    )
