"""The check cycle against the real database and real local peers: claiming, leases,
bulk recording, every probe type end to end, heartbeats (SPEC §5)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.audit import Actor
from accounts.models import AuditLog
from monitors import services
from monitors.checks import run_batch
from monitors.models import CheckResult, Monitor, UptimeRollup
from pulse import tenancy
from pulse.db import checks as check_sql
from pulse.db.partitions import drop_expired_partitions, ensure_partitions
from tests.conftest import Member
from tests.monitors.peers import DnsPeer, TcpPeer, WebPeer


def make(owner: Member, **data: Any) -> Monitor:
    data.setdefault("name", f"{data['type']} {uuid.uuid4().hex[:6]}")
    with tenancy.org_context(owner.org.id, user_id=owner.user.id):
        return services.monitor_create(actor=Actor(user=owner.user), data=data)


def make_due(*monitors: Monitor) -> None:
    Monitor.all_orgs.filter(id__in=[m.id for m in monitors]).update(
        next_check_at=timezone.now() - timedelta(milliseconds=50)
    )


def claim_all() -> list[check_sql.Claim]:
    return check_sql.claim_due(limit=1000, lookahead=0, lease_grace=30)


def results_for(monitor: Monitor) -> list[CheckResult]:
    with tenancy.org_context(monitor.org_id):  # the system role only writes results
        return list(CheckResult.objects.filter(monitor_id=monitor.id).order_by("ts"))


def run_claimed(claims: list[check_sql.Claim]) -> None:
    run_batch([(c.monitor_id, c.due_at) for c in claims])


def test_two_concurrent_tickers_never_claim_the_same_monitor(owner: Member) -> None:
    monitors = [make(owner, type="http", target=f"http://127.0.0.1:9/{i}") for i in range(300)]
    make_due(*monitors)
    claimed: list[list[check_sql.Claim]] = [[], []]
    errors: list[BaseException] = []
    first_claimed, second_claimed = threading.Event(), threading.Event()
    overlapped: list[bool] = []

    def claim_rest(slot: int) -> None:
        while batch := check_sql.claim_due(limit=25, lookahead=0, lease_grace=30):
            claimed[slot].extend(batch)

    def first() -> None:
        # The first claim's transaction (and its row locks) stays open until the other
        # ticker has claimed: whichever thread the scheduler favours, the second claim
        # meets locked rows and must pass them by (SKIP LOCKED), not wait or take them.
        try:
            with transaction.atomic(using="system"):
                claimed[0].extend(check_sql.claim_due(limit=25, lookahead=0, lease_grace=30))
                first_claimed.set()
                overlapped.append(second_claimed.wait(timeout=30))
            claim_rest(0)
        except BaseException as exc:
            errors.append(exc)
        finally:
            first_claimed.set()
            connections.close_all()

    def second() -> None:
        try:
            assert first_claimed.wait(timeout=30)
            claimed[1].extend(check_sql.claim_due(limit=25, lookahead=0, lease_grace=30))
            second_claimed.set()
            claim_rest(1)
        except BaseException as exc:
            errors.append(exc)
        finally:
            second_claimed.set()
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    # The second ticker claimed while the first one's claim was still uncommitted.
    assert overlapped == [True]
    assert len(claimed[0]) >= 25 and len(claimed[1]) >= 25
    ids = [c.monitor_id for c in claimed[0] + claimed[1]]
    assert len(ids) == len(set(ids)) == 300  # every monitor exactly once, none twice
    assert claim_all() == []  # in flight: not due again until recorded


def test_next_due_is_previous_due_plus_interval_without_drift(owner: Member, web: WebPeer) -> None:
    monitor = make(owner, type="http", target=web.url("/ok"))
    Monitor.all_orgs.filter(id=monitor.id).update(interval_seconds=1, timeout_seconds=1)
    first_due = timezone.now() + timedelta(milliseconds=300)
    Monitor.all_orgs.filter(id=monitor.id).update(next_check_at=first_due)
    # Until five results are in, not for a fixed time: a busy machine only slows it down.
    deadline = time.monotonic() + 60
    while len(results_for(monitor)) < 5:
        assert time.monotonic() < deadline, "five results not recorded within 60 s"
        # Claimed up to 1.5 s ahead, as the tick does; each probe waits for its due time.
        claims = check_sql.claim_due(limit=10, lookahead=1.5, lease_grace=30)
        if claims:
            run_claimed(claims)
        else:
            time.sleep(0.05)
    results = results_for(monitor)
    offsets = [(r.due_at - first_due).total_seconds() for r in results]
    # Every due time sits exactly on the original phase, whole intervals after the
    # first: no drift from probe or tick time. (A claim more than an interval late
    # skips to the next slot in phase, see below, so a stalled machine may leave a
    # slot out, but never shifts one.)
    assert offsets[0] == 0.0
    assert all(offset == int(offset) for offset in offsets), offsets
    assert offsets == sorted(set(offsets)), offsets
    # Claimed early, probed on time: no result is from before its due time (10 ms for
    # the event loop's millisecond timers).
    assert min(r.lag_seconds for r in results) > -0.01, [r.lag_seconds for r in results]


def test_an_overdue_monitor_skips_to_the_next_slot_in_phase(owner: Member) -> None:
    monitor = make(owner, type="tcp", target="127.0.0.1:9", interval_seconds=60)
    due = timezone.now() - timedelta(seconds=150)
    Monitor.all_orgs.filter(id=monitor.id).update(next_check_at=due)
    [claim] = claim_all()
    assert claim.due_at == due
    monitor.refresh_from_db(using="system")
    assert monitor.next_check_at == due + timedelta(seconds=180)


def test_a_lost_batch_is_probed_again_and_recorded_once(owner: Member, web: WebPeer) -> None:
    monitor = make(owner, type="http", target=web.url("/ok"))
    make_due(monitor)
    [claim] = claim_all()
    # The worker holding the batch dies: nothing is recorded, the lease runs out.
    assert check_sql.sweep_lost(limit=10, lease_grace=30) == []
    Monitor.all_orgs.filter(id=monitor.id).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    [again] = check_sql.sweep_lost(limit=10, lease_grace=30)
    assert (again.monitor_id, again.due_at) == (claim.monitor_id, claim.due_at)
    run_claimed([again])
    # The first worker was only slow, not dead: its late result is dropped.
    run_claimed([claim])
    assert [(r.due_at, r.outcome) for r in results_for(monitor)] == [(claim.due_at, "ok")]


def test_results_are_rolled_up_per_minute_and_hour(owner: Member, web: WebPeer) -> None:
    good = make(owner, type="http", target=web.url("/ok"))
    bad = make(owner, type="http", target=web.url("/fail"))
    make_due(good, bad)
    run_claimed(claim_all())
    with tenancy.org_context(owner.org.id):
        rollups = {(r.monitor_id, r.grain): r for r in UptimeRollup.objects.all()}
    assert {key[1] for key in rollups} == {"m", "h"}
    assert rollups[(good.id, "m")].checks == 1 and rollups[(good.id, "m")].failures == 0
    assert rollups[(bad.id, "h")].failures == 1
    assert rollups[(good.id, "m")].latency_min is not None


def test_every_probe_type_end_to_end_with_clear_errors(
    owner: Member, web: WebPeer, tcp: TcpPeer, dns: DnsPeer
) -> None:
    cases: dict[str, tuple[dict[str, Any], str, str]] = {
        "http ok": ({"type": "http", "target": web.url("/ok")}, "ok", ""),
        "http 500": ({"type": "http", "target": web.url("/fail")}, "fail", "status 500"),
        "http keyword": (
            {"type": "http", "target": web.url("/ok"), "config": {"keyword": "Goodbye"}},
            "fail",
            "keyword 'Goodbye' not found",
        ),
        "http timeout": (
            {"type": "http", "target": web.url("/slow?ms=3000"), "timeout_seconds": 1},
            "fail",
            "timed out",
        ),
        "http refused": (
            {"type": "http", "target": f"http://127.0.0.1:{tcp.closed_port}/"},
            "fail",
            "refused",
        ),
        "tcp ok": ({"type": "tcp", "target": tcp.target()}, "ok", ""),
        "tcp refused": (
            {"type": "tcp", "target": f"127.0.0.1:{tcp.closed_port}"},
            "fail",
            "connection refused",
        ),
        "icmp ok": ({"type": "icmp", "target": "127.0.0.1"}, "ok", ""),
        "dns ok": (
            {
                "type": "dns",
                "target": "ok.pulse.test",
                "config": {
                    "record_type": "A",
                    "resolver": "127.0.0.1",
                    "port": dns.port,
                    "expected": ["127.0.0.1"],
                },
            },
            "ok",
            "",
        ),
        "dns nxdomain": (
            {
                "type": "dns",
                "target": "missing.pulse.test",
                "config": {"record_type": "A", "resolver": "127.0.0.1", "port": dns.port},
            },
            "fail",
            "NXDOMAIN",
        ),
    }
    monitors = {name: make(owner, **data) for name, (data, _, _) in cases.items()}
    make_due(*monitors.values())
    run_claimed(claim_all())
    for name, (_, outcome, error) in cases.items():
        [result] = results_for(monitors[name])
        assert result.outcome == outcome, (name, result.error)
        assert error in result.error, (name, result.error)
        monitor = Monitor.all_orgs.get(id=monitors[name].id)
        assert monitor.last_outcome == outcome and monitor.last_check_at == result.ts
        assert monitor.inflight_due_at is None


def _ping(client: Client, token: str, suffix: str = "", method: str = "get") -> Any:
    name = {
        "": "ingest_heartbeat",
        "start": "ingest_heartbeat_start",
        "fail": "ingest_heartbeat_fail",
    }[suffix]
    return getattr(client, method)(reverse(name, args=[token]))


def test_heartbeats_are_accepted_by_get_head_post_and_missed_ones_fail(owner: Member) -> None:
    monitor = make(owner, type="push", interval_seconds=60, config={"grace_seconds": 30})
    client = Client()
    assert _ping(client, "no-such-token").status_code == 404
    for method in ("get", "head", "post"):
        assert _ping(client, monitor.heartbeat_token, method=method).status_code == 200
    assert _ping(client, monitor.heartbeat_token, "start").status_code == 200
    fresh = Monitor.all_orgs.get(id=monitor.id)
    assert fresh.last_ping_at and fresh.last_start_at
    assert fresh.next_check_at <= timezone.now()  # a ping asks for a look now
    run_claimed(claim_all())
    assert results_for(monitor)[-1].outcome == "ok"
    # No ping for longer than interval + grace: the next look fails, saying why.
    Monitor.all_orgs.filter(id=monitor.id).update(
        last_ping_at=timezone.now() - timedelta(seconds=200)
    )
    make_due(monitor)
    run_claimed(claim_all())
    missed = results_for(monitor)[-1]
    assert missed.outcome == "fail" and "no heartbeat since" in missed.error
    # The next deadline is interval + grace after this look.
    fresh = Monitor.all_orgs.get(id=monitor.id)
    assert fresh.next_check_at == missed.due_at + timedelta(seconds=90)
    # /fail reports the job's own failure.
    assert _ping(client, monitor.heartbeat_token, "fail").status_code == 200
    run_claimed(claim_all())
    assert results_for(monitor)[-1].error == "the job reported failure (/fail ping)"


def test_a_cron_heartbeat_expects_a_ping_after_each_occurrence(owner: Member) -> None:
    monitor = make(
        owner,
        type="push",
        config={"cron": "*/5 * * * *", "tz": "Europe/Paris", "grace_seconds": 60},
    )
    Monitor.all_orgs.filter(id=monitor.id).update(
        last_ping_at=timezone.now() - timedelta(minutes=20)
    )
    make_due(monitor)
    run_claimed(claim_all())
    assert results_for(monitor)[-1].outcome == "fail"
    nxt = Monitor.all_orgs.get(id=monitor.id).next_check_at
    local = nxt.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert (local - timedelta(seconds=60)).minute % 5 == 0  # next occurrence + grace


def test_invalid_input_gets_field_errors_and_writes_nothing(owner: Member) -> None:
    bad = {
        "type": "http",
        "name": "",
        "target": "ftp://x",
        "interval_seconds": 5,
        "config": {"json_path": "a[", "accepted_status": ["abc"]},
    }
    with tenancy.org_context(owner.org.id), pytest.raises(ValidationError) as excinfo:
        services.monitor_create(actor=Actor(user=owner.user), data=bad)
    fields = set(excinfo.value.message_dict)
    assert {
        "name",
        "target",
        "interval_seconds",
        "config.json_path",
        "config.accepted_status",
    } <= fields
    with tenancy.org_context(owner.org.id):
        assert Monitor.objects.count() == 0
        assert not AuditLog.objects.filter(action="monitor.create").exists()


def test_create_update_pause_resume_delete_are_audited(owner: Member, web: WebPeer) -> None:
    actor = Actor(user=owner.user)
    monitor = make(owner, type="http", target=web.url("/ok"))
    original_name = monitor.name
    with tenancy.org_context(owner.org.id):
        services.monitor_update(actor=actor, monitor=monitor, data={"name": "Renamed"})
        services.monitor_pause(actor=actor, monitor=monitor)
        assert Monitor.objects.get(id=monitor.id).status == "paused"
        services.monitor_resume(actor=actor, monitor=monitor)
        services.monitor_delete(actor=actor, monitor=monitor)
        actions = list(AuditLog.objects.order_by("ts").values_list("action", flat=True))
        update = AuditLog.objects.get(action="monitor.update")
    assert actions[-5:] == [
        "monitor.create",
        "monitor.update",
        "monitor.pause",
        "monitor.resume",
        "monitor.delete",
    ]
    assert update.changes["name"] == [original_name, "Renamed"]


def test_a_paused_monitor_is_never_claimed(owner: Member) -> None:
    monitor = make(owner, type="tcp", target="127.0.0.1:9")
    with tenancy.org_context(owner.org.id):
        services.monitor_pause(actor=Actor(user=owner.user), monitor=monitor)
    make_due(monitor)
    assert claim_all() == []


def test_partitions_are_made_ahead_with_rls_and_dropped_past_retention(live_db: None) -> None:
    ensure_partitions("check_results", days_back=40, days_ahead=7)
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*), bool_and(c.relrowsecurity AND c.relforcerowsecurity) "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'check_results'::regclass"
        )
        before, all_secured = cursor.fetchone()
    assert before >= 48 and all_secured
    dropped = drop_expired_partitions("check_results", keep_days=30)
    assert dropped >= 9
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'check_results'::regclass"
        )
        assert cursor.fetchone()[0] == before - dropped
