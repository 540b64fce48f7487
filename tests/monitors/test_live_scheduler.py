"""The real scheduler and workers (Celery subprocesses) against real local peers."""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.utils import timezone

from monitors.models import CheckResult, Monitor
from monitors.tasks import schedule_tick
from pulse import tenancy
from tests import live
from tests.conftest import Member
from tests.monitors.peers import WebPeer
from tests.monitors.test_pipeline import make


def _results(ids: list[uuid.UUID]) -> list[CheckResult]:
    # The system role only writes results: read them as each monitor's org.
    found: list[CheckResult] = []
    for org_id in set(Monitor.all_orgs.filter(id__in=ids).values_list("org_id", flat=True)):
        with tenancy.org_context(org_id):
            found.extend(CheckResult.objects.filter(monitor_id__in=ids))
    return found


def test_beat_and_workers_probe_every_monitor_once_per_due_time(
    owner: Member, web: WebPeer
) -> None:
    monitors = [
        make(owner, type="http", target=web.url("/ok"), interval_seconds=10, timeout_seconds=5)
        for _ in range(30)
    ]
    ids = [m.id for m in monitors]
    with live.worker("all"), live.beat():
        # Generous: on a busy machine beat and the worker take a while to start.
        live.wait_for(lambda: len({r.monitor_id for r in _results(ids)}) == 30, timeout=120)
        time.sleep(0.5)
    results = _results(ids)
    keys = [(r.monitor_id, r.due_at) for r in results]
    assert len(keys) == len(set(keys))  # never two results for one due time
    assert all(r.outcome == "ok" for r in results)


def test_a_batch_lost_with_a_killed_worker_is_probed_again_once(
    owner: Member, web: WebPeer, settings: Any
) -> None:
    settings.CHECK_LEASE_GRACE = 1.0  # the lease is due + 8 s + 1 s (ticks run here)
    monitors = [
        make(owner, type="http", target=web.url("/hold"), timeout_seconds=8) for _ in range(5)
    ]
    ids = [m.id for m in monitors]
    Monitor.all_orgs.filter(id__in=ids).update(next_check_at=timezone.now())
    before = web.hits["/hold"]
    # The target answers only once released: the probes are certainly in flight when
    # the worker dies, however slow the machine (unless it stalls for the 8 s timeout).
    web.hold()
    try:
        with live.worker("doomed") as doomed:
            assert schedule_tick() == 5
            live.wait_for(lambda: web.hits["/hold"] >= before + 5, timeout=60)
            live.kill_group(doomed)  # kill -9 mid-probe: nothing gets recorded
    finally:
        web.release()
    assert _results(ids) == []
    with live.worker("rescuer"):
        # The sweeper in the tick re-sends the batch once its lease has run out.
        live.wait_for(
            lambda: schedule_tick() >= 0 and len(_results(ids)) == 5, timeout=90, interval=0.5
        )
        time.sleep(1)
        schedule_tick()
        time.sleep(3)
    results = _results(ids)
    assert sorted(r.monitor_id for r in results) == sorted(ids)  # exactly once each
    assert all(r.outcome == "ok" for r in results)
    assert all(m.inflight_due_at is None for m in Monitor.all_orgs.filter(id__in=ids))
