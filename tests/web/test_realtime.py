"""Live updates (SPEC §5.5): the org socket, the per-org coalescing publisher and the
OOB fragments, through pulse.asgi.application with a real session cookie and the real
Redis channel layer."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.urls import reverse

from accounts.models import Membership, Role
from monitors.models import Monitor
from pulse import consumers, realtime, tenancy
from pulse.asgi import application
from pulse.realtime import publish_on_commit, publish_org_event
from tests.alerting.test_engine import cycle
from tests.conftest import Member
from tests.monitors.peers import WebPeer
from tests.web.conftest import monitor_for

Scenario = Callable[[], Awaitable[None]]


def run(scenario: Scenario) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout=30))


def session_cookie(member: Member) -> str:
    """Log in (sync: before the event loop starts) and return the session id."""
    return str(member.client().cookies["pulse_session"].value)


def socket_for(cookie: str, origin: bytes = b"http://testserver") -> WebsocketCommunicator:
    headers = [
        (b"origin", origin),
        (b"host", b"testserver"),
        (b"cookie", f"pulse_session={cookie}".encode()),
    ]
    return WebsocketCommunicator(application, "/ws/org/", headers=headers)


async def settle(socket: WebsocketCommunicator, org_id: Any) -> None:
    """Drain what the publisher still owes this org from before the socket joined.

    The fixtures' own changes (``monitor.created`` ...) are flushed by the publisher's
    thread; on a busy machine that can be after the socket has joined the org's
    group, where they would pass for the test's frames. One flusher thread sends an
    org's messages in order, so once a marker published now has arrived, nothing
    older can follow.
    """
    publish_org_event(org_id, "incident.updated", {"incident_id": str(uuid.uuid4())})
    await wait_for_frame(socket, 'data-pulse-event="incidents-changed"', timeout=10)


class StoppedClock:
    """``time`` for ``pulse.realtime``: the flusher's clock moves only when told."""

    def __init__(self, now: float) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now


async def wait_for_frame(
    socket: WebsocketCommunicator, contains: str, timeout: float = 10
) -> tuple[str, float]:
    """The first frame containing ``contains`` and how long it took to come."""
    start = time.monotonic()
    while True:
        frame = await socket.receive_from(timeout=max(timeout - (time.monotonic() - start), 0.01))
        if contains in frame:
            return frame, time.monotonic() - start


def test_an_unauthenticated_socket_is_closed_with_4401(live_db: None) -> None:
    async def scenario() -> None:
        socket = socket_for("not-a-session")
        connected, _ = await socket.connect()
        assert connected  # accepted first, so the browser sees the code and stops retrying
        assert await socket.receive_output(timeout=5) == {
            "type": "websocket.close",
            "code": consumers.CLOSE_UNAUTHENTICATED,
        }

    run(scenario)
    assert consumers.connection_count() == 0


def test_a_user_without_an_org_is_closed_with_4403(live_db: None) -> None:
    from django.test import Client

    from accounts.models import User
    from tests.conftest import PASSWORD

    User.objects.create_user(email="lonely@example.test", password=PASSWORD)
    client = Client()
    client.post("/login", {"email": "lonely@example.test", "password": PASSWORD})
    cookie = client.cookies["pulse_session"].value

    async def scenario() -> None:
        socket = socket_for(cookie)
        await socket.connect()
        output = await socket.receive_output(timeout=5)
        assert output["code"] == consumers.CLOSE_FORBIDDEN

    run(scenario)


def test_a_foreign_origin_is_refused(owner: Member) -> None:
    cookie = session_cookie(owner)

    async def scenario() -> None:
        socket = socket_for(cookie, origin=b"https://evil.example")
        connected, _ = await socket.connect()
        assert not connected

    run(scenario)


def test_connect_sends_a_snapshot_of_every_status(owner: Member) -> None:
    up = monitor_for(owner, name="up one")
    down = monitor_for(owner, name="down one")
    Monitor.all_orgs.filter(id=up.id).update(status="up", last_latency_ms=12.0)
    Monitor.all_orgs.filter(id=down.id).update(status="down")

    cookie = session_cookie(owner)

    async def scenario() -> None:
        socket = socket_for(cookie)
        connected, _ = await socket.connect()
        assert connected
        snapshot = await socket.receive_from(timeout=5)
        assert consumers.connection_count() == 1
        assert f'<span id="monitor-{up.id}-status" hx-swap-oob="innerHTML">' in snapshot
        assert f'id="monitor-{up.id}-latency" hx-swap-oob="innerHTML">12 ms' in snapshot
        assert "status--down" in snapshot and "status--up" in snapshot
        assert '<div class="status-counts" id="status-counts" hx-swap-oob="true">' in snapshot
        assert "data-pulse-event" not in snapshot  # a snapshot refreshes, it signals nothing
        await socket.disconnect()

    run(scenario)
    assert consumers.connection_count() == 0


def test_org_a_gets_org_a_updates_only(owner: Member, outsider: Member) -> None:
    mine = monitor_for(owner, name="mine")
    theirs = monitor_for(outsider, name="theirs")

    cookie = session_cookie(owner)

    async def scenario() -> None:
        socket = socket_for(cookie)
        await socket.connect()
        await socket.receive_from(timeout=5)  # snapshot
        await settle(socket, owner.org.id)
        publish_org_event(outsider.org.id, "monitor.paused", {"monitor_id": theirs.id})
        assert await socket.receive_nothing(timeout=1.0)
        publish_org_event(owner.org.id, "monitor.paused", {"monitor_id": mine.id})
        frame = await socket.receive_from(timeout=5)
        assert f'id="monitor-{mine.id}-status"' in frame
        assert str(theirs.id) not in frame
        await socket.disconnect()

    run(scenario)


def test_the_socket_follows_the_sessions_active_org(owner: Member, outsider: Member) -> None:
    with tenancy.org_context(outsider.org.id):
        Membership.objects.create(org=outsider.org, user=owner.user, role=Role.VIEWER)
    theirs = monitor_for(outsider, name="beta monitor")
    client = owner.client()
    client.post(reverse("accounts:org_switch"), {"org": str(outsider.org.id)})
    cookie = client.cookies["pulse_session"].value

    async def scenario() -> None:
        socket = socket_for(cookie)
        await socket.connect()
        snapshot = await socket.receive_from(timeout=5)
        assert f"monitor-{theirs.id}-status" in snapshot
        publish_org_event(outsider.org.id, "monitor.updated", {"monitor_id": theirs.id})
        frame = await socket.receive_from(timeout=5)
        assert f"monitor-{theirs.id}-status" in frame and "monitors-changed" in frame
        await socket.disconnect()

    run(scenario)


def test_ten_changes_within_250_ms_arrive_as_at_most_two_frames(
    owner: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    monitors = [monitor_for(owner, name=f"m{i}") for i in range(10)]

    cookie = session_cookie(owner)

    async def scenario() -> None:
        socket = socket_for(cookie)
        await socket.connect()
        await socket.receive_from(timeout=5)
        await settle(socket, owner.org.id)
        # "Within 250 ms" on the publisher's own clock, stopped here and moved by the
        # test: a busy machine can stretch ten publishes past 250 ms of wall time.
        # Starting one interval ahead makes the first change a leading edge.
        clock = StoppedClock(time.monotonic() + realtime.FLUSH_INTERVAL)
        monkeypatch.setattr(realtime, "time", clock)
        for monitor in monitors:
            publish_org_event(owner.org.id, "monitor.paused", {"monitor_id": monitor.id})
            # Spread out, so that a publisher which did not coalesce would be seen
            # sending more messages (the stopped clock keeps them in one window).
            await asyncio.sleep(0.02)
        frames = [(await wait_for_frame(socket, "monitor-"))[0]]  # sent at once
        clock.now += realtime.FLUSH_INTERVAL  # the next slot: whatever waited goes out
        while not all(f"monitor-{m.id}-status" in "".join(frames) for m in monitors):
            frames.append((await wait_for_frame(socket, "monitor-"))[0])
        assert 1 <= len(frames) <= 2, len(frames)
        await socket.disconnect()

    run(scenario)


def test_a_real_check_cycle_reaches_the_socket_with_oob_fragments(
    owner: Member, web: WebPeer
) -> None:
    web.set_failing(False)
    monitor = monitor_for(owner, name="Toggle", target=web.url("/toggle"))

    cookie = session_cookie(owner)

    async def scenario() -> None:
        socket = socket_for(cookie)
        await socket.connect()
        await socket.receive_from(timeout=5)
        await settle(socket, owner.org.id)
        assert await sync_to_async(cycle)(monitor) == "up"
        frame, _ = await wait_for_frame(socket, f'id="monitor-{monitor.id}-status"')
        assert "status--up" in frame and "Up</span>" in frame
        assert f'<span id="monitor-{monitor.id}-checked" hx-swap-oob="innerHTML"><time' in frame
        assert f'data-pulse-event="monitor-changed" data-monitors="{monitor.id}"' in frame
        assert "incidents-changed" not in frame
        web.set_failing(True)
        for expected in ("degraded", "degraded", "down"):
            assert await sync_to_async(cycle)(monitor) == expected
            frame, _ = await wait_for_frame(socket, f"status--{expected}")
        # The third failure opened an incident: the lists that show incidents re-fetch.
        assert 'data-pulse-event="incidents-changed"' in frame
        assert 'class="stat stat--link stat--down"' in frame
        web.set_failing(False)
        await socket.disconnect()

    run(scenario)


def test_publish_on_commit_waits_for_the_commit(owner: Member) -> None:
    from django.db import transaction

    monitor = monitor_for(owner, name="m")

    cookie = session_cookie(owner)

    async def scenario() -> None:
        socket = socket_for(cookie)
        await socket.connect()
        await socket.receive_from(timeout=5)
        await settle(socket, owner.org.id)

        def rolled_back() -> None:
            with tenancy.org_context(owner.org.id):
                try:
                    with transaction.atomic():
                        publish_on_commit(owner.org.id, "incident.resolved", {"incident_id": "x"})
                        raise RuntimeError("rollback")
                except RuntimeError:
                    pass

        await sync_to_async(rolled_back)()
        assert await socket.receive_nothing(timeout=0.8)

        def committed() -> None:
            with tenancy.org_context(owner.org.id), transaction.atomic():
                publish_on_commit(owner.org.id, "monitor.deleted", {"monitor_id": monitor.id})

        await sync_to_async(committed)()
        frame = await socket.receive_from(timeout=5)
        assert f'<span id="monitor-{monitor.id}-tile" hx-swap-oob="delete">' in frame
        assert 'data-pulse-event="monitors-changed"' in frame
        await socket.disconnect()

    run(scenario)


def test_unknown_kinds_and_group_names() -> None:
    with pytest.raises(ValueError, match="unknown realtime event kind"):
        publish_org_event("01a1fd0c-02f6-7302-ae1b-aaaed8b63dda", "monitor.exploded", {})
    name = realtime.group_name("01a1fd0c-02f6-7302-ae1b-aaaed8b63dda")
    assert name == "org.01a1fd0c-02f6-7302-ae1b-aaaed8b63dda" and len(name) < 100


def test_one_message_is_rendered_once_per_process(owner: Member) -> None:
    message: dict[str, Any] = {
        "id": "test:1",
        "monitors": [
            {"id": "m1", "status": "up", "latency_ms": 5.0, "checked_at": None, "outcome": "ok"}
        ],
        "counts": {"up": 1},
        "incidents_changed": True,
    }
    first = consumers.rendered_once(message)
    assert consumers.rendered_once({**message, "monitors": []}) is first
    assert 'data-pulse-event="incidents-changed"' in first
