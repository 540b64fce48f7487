"""The alert engine in the real pipeline: a local HTTP target switched to failing and
back, rules, outbox rows, maintenance, pause, concurrency (SPEC §6-7)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from accounts.audit import Actor
from accounts.models import AuditLog, Role
from alerting import services as alert_services
from alerting.engine import idempotency_key
from alerting.models import MonitorTransition
from incidents import services as incident_services
from incidents.models import Incident, IncidentEvent
from monitors import services as monitor_services
from monitors.checks import _record, _row
from monitors.models import Monitor
from monitors.probes.base import Outcome, ProbeResult
from notifications.models import Channel, Notification
from pulse import tenancy
from pulse.db import checks as check_sql
from tests.conftest import Member
from tests.monitors.peers import WebPeer
from tests.monitors.test_pipeline import claim_all, make, make_due, run_claimed


def channel(owner: Member, name: str) -> Channel:
    with tenancy.org_context(owner.org.id):
        return Channel.objects.create(
            kind="webhook", name=name, config={"url": "http://127.0.0.1:9/hook"}
        )


@pytest.fixture
def setup(owner: Member, web: WebPeer) -> dict[str, Any]:
    web.set_failing(False)
    pager, chat, db_team = channel(owner, "pager"), channel(owner, "chat"), channel(owner, "db")
    monitor = make(owner, type="http", target=web.url("/toggle"), tags=["web"])
    actor = Actor(user=owner.user)
    with tenancy.org_context(owner.org.id):
        paging = alert_services.rule_create(
            actor=actor,
            role=Role.OWNER,
            data={"name": "Page on down", "events": ["down", "recovered"], "channels": [pager.id]},
        )
        degraded = alert_services.rule_create(
            actor=actor,
            role=Role.OWNER,
            data={"name": "Chat on degraded", "events": ["degraded"], "channels": [chat.id]},
        )
        alert_services.rule_create(
            actor=actor,
            role=Role.OWNER,
            data={
                "name": "DB team",
                "scope": "tag",
                "tags": ["db"],
                "events": ["down"],
                "channels": [db_team.id],
            },
        )
    return {
        "monitor": monitor,
        "pager": pager,
        "chat": chat,
        "paging": paging,
        "degraded": degraded,
        "web": web,
    }


def cycle(monitor: Monitor) -> str:
    make_due(monitor)
    run_claimed(claim_all())
    return str(Monitor.all_orgs.get(id=monitor.id).status)


def test_n_failures_open_one_incident_and_m_oks_resolve_it(
    owner: Member, setup: dict[str, Any]
) -> None:
    monitor, web = setup["monitor"], setup["web"]
    assert cycle(monitor) == "up"
    web.set_failing(True)
    statuses = [cycle(monitor) for _ in range(3)]
    assert statuses == ["degraded", "degraded", "down"]
    [incident] = Incident.all_orgs.filter(monitor=monitor)
    assert incident.status == "open" and "status 500" in incident.cause
    opened = IncidentEvent.all_orgs.get(incident=incident, kind="opened")
    # Outbox rows for the matching rules only: degraded -> chat, down -> pager; the
    # tag rule (db) does not match this monitor.
    rows = {(n.event, n.channel_id) for n in Notification.all_orgs.all()}
    assert rows == {("degraded", setup["chat"].id), ("down", setup["pager"].id)}
    down = Notification.all_orgs.get(event="down")
    assert down.idempotency_key == idempotency_key(opened.id, setup["paging"].id, setup["pager"].id)
    assert down.payload["incident"]["id"] == str(incident.id)
    assert down.payload["check"]["status_code"] == 500
    web.set_failing(False)
    assert [cycle(monitor) for _ in range(2)] == ["down", "up"]
    incident.refresh_from_db(using="system")
    assert incident.status == "resolved" and incident.resolution == "recovered"
    recovered = IncidentEvent.all_orgs.get(incident=incident, kind="recovered")
    assert Notification.all_orgs.get(event="recovered").event_id == recovered.id
    timeline = IncidentEvent.all_orgs.filter(incident=incident)
    assert all(e.actor_label and e.ts for e in timeline)
    with tenancy.org_context(monitor.org_id):  # the system role never reads timelines
        transitions = list(
            MonitorTransition.objects.filter(monitor=monitor)
            .order_by("ts")
            .values_list("from_status", "to_status")
        )
    assert transitions == [
        ("pending", "up"),
        ("up", "degraded"),
        ("degraded", "down"),
        ("down", "up"),
    ]
    # Failing again opens a new incident; never two open at once.
    web.set_failing(True)
    for _ in range(3):
        cycle(monitor)
    assert Incident.all_orgs.filter(monitor=monitor).exclude(status="resolved").count() == 1


def test_a_paused_monitor_never_pages(owner: Member, setup: dict[str, Any]) -> None:
    monitor, web = setup["monitor"], setup["web"]
    web.set_failing(True)
    make_due(monitor)
    claims = claim_all()
    with tenancy.org_context(owner.org.id):
        monitor_services.monitor_pause(actor=Actor(user=owner.user), monitor=monitor)
    run_claimed(claims)  # the batch was already out: its result is dropped
    for _ in range(4):
        cycle(monitor)
    assert Monitor.all_orgs.get(id=monitor.id).status == "paused"
    assert not Incident.all_orgs.exists() and not Notification.all_orgs.exists()


def test_a_maintenance_window_mutes_and_checks_still_run(
    owner: Member, setup: dict[str, Any]
) -> None:
    monitor, web = setup["monitor"], setup["web"]
    cycle(monitor)
    actor = Actor(user=owner.user)
    with tenancy.org_context(owner.org.id):
        window = alert_services.maintenance_create(
            actor=actor,
            role=Role.ADMIN,
            data={
                "name": "Upgrade",
                "starts_at": timezone.now() - timedelta(minutes=1),
                "ends_at": timezone.now() + timedelta(hours=1),
                "monitors": [monitor.id],
            },
        )
    web.set_failing(True)
    assert [cycle(monitor) for _ in range(4)] == ["maintenance"] * 4
    assert not Incident.all_orgs.exists() and not Notification.all_orgs.exists()
    assert check_sql  # results were still stored:
    from monitors.models import CheckResult

    with tenancy.org_context(monitor.org_id):  # the system role only writes results
        assert CheckResult.objects.filter(monitor_id=monitor.id, outcome="fail").count() == 4
    with tenancy.org_context(owner.org.id):
        alert_services.maintenance_delete(actor=actor, role=Role.ADMIN, window=window)
    assert [cycle(monitor) for _ in range(3)] == ["degraded", "degraded", "down"]
    assert Incident.all_orgs.count() == 1


def test_a_recurring_window_is_active_during_each_occurrence(owner: Member) -> None:
    from alerting.engine import window_active
    from alerting.models import MaintenanceWindow

    window = MaintenanceWindow(
        name="nightly", cron="0 3 * * *", duration_minutes=60, timezone="Europe/Paris", enabled=True
    )
    paris = __import__("zoneinfo").ZoneInfo("Europe/Paris")
    inside = datetime(2026, 11, 21, 3, 30, tzinfo=paris)
    outside = datetime(2026, 11, 21, 4, 30, tzinfo=paris)
    assert window_active(window, inside) and not window_active(window, outside)


def test_concurrent_evaluations_of_one_monitor_never_make_two_incidents(
    owner: Member, setup: dict[str, Any]
) -> None:
    monitor = setup["monitor"]
    for _ in range(2):  # two failures recorded: the next one confirms down
        Monitor.all_orgs.filter(id=monitor.id).update(
            inflight_due_at=None, next_check_at=timezone.now()
        )
        [claim] = claim_all()
        _record([(_row(monitor, claim.due_at, ProbeResult(Outcome.FAIL, 1.0, error="x")), None)])
    make_due(monitor)
    [claim] = claim_all()
    barrier = threading.Barrier(6)

    def worker() -> None:
        barrier.wait()
        _record([(_row(monitor, claim.due_at, ProbeResult(Outcome.FAIL, 1.0, error="boom")), None)])
        connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Incident.all_orgs.filter(monitor=monitor).count() == 1
    assert IncidentEvent.all_orgs.filter(kind="opened").count() == 1
    assert Notification.all_orgs.filter(event="down").count() == 1
    # And the database refuses a second unresolved incident whatever the code does.
    with pytest.raises(IntegrityError), transaction.atomic(using="system"):
        Incident.all_orgs.create(org_id=owner.org.id, monitor=monitor, title="dup")


def test_staff_acknowledge_resolve_and_note_with_roles(
    owner: Member, operator: Member, viewer: Member, setup: dict[str, Any]
) -> None:
    monitor, web = setup["monitor"], setup["web"]
    web.set_failing(True)
    for _ in range(3):
        cycle(monitor)
    incident = Incident.all_orgs.get(monitor=monitor)
    with tenancy.org_context(owner.org.id):
        with pytest.raises(PermissionDenied):
            incident_services.incident_acknowledge(
                incident=incident, actor=Actor(user=viewer.user), role=Role.VIEWER
            )
        as_operator = Actor(user=operator.user)
        incident_services.incident_acknowledge(
            incident=incident, actor=as_operator, role=Role.OPERATOR
        )
        incident_services.incident_add_note(
            incident=incident, actor=as_operator, role=Role.OPERATOR, text="Restarting the app"
        )
        incident_services.incident_resolve(incident=incident, actor=as_operator, role=Role.OPERATOR)
        kinds = list(
            IncidentEvent.objects.filter(incident=incident)
            .order_by("ts")
            .values_list("kind", "actor_label")
        )
        actions = set(AuditLog.objects.values_list("action", flat=True))
    assert kinds[-3:] == [
        ("acknowledged", operator.user.email),
        ("note", operator.user.email),
        ("resolved", operator.user.email),
    ]
    assert {"incident.acknowledge", "incident.note", "incident.resolve"} <= actions
    incident.refresh_from_db(using="system")
    assert incident.acknowledged_by_id == operator.user.id and incident.resolution == "manual"


def test_an_unacknowledged_down_incident_is_repeated_until_acknowledged(
    owner: Member, setup: dict[str, Any]
) -> None:
    from alerting.reminders import send_due_reminders

    monitor, web = setup["monitor"], setup["web"]
    with tenancy.org_context(owner.org.id):
        alert_services.rule_update(
            actor=Actor(user=owner.user),
            role=Role.OWNER,
            rule=setup["paging"],
            data={"repeat_minutes": 5},
        )
    web.set_failing(True)
    for _ in range(3):
        cycle(monitor)
    incident = Incident.all_orgs.get(monitor=monitor)
    assert send_due_reminders() == 0  # the down notification is fresh
    Notification.all_orgs.filter(event="down").update(
        created_at=timezone.now() - timedelta(minutes=6)
    )
    assert send_due_reminders() == 1
    reminder = Notification.all_orgs.get(event="reminder")
    assert reminder.channel_id == setup["pager"].id
    assert reminder.payload["type"] == "monitor.reminder"
    assert IncidentEvent.all_orgs.filter(incident=incident, kind="reminded").count() == 1
    assert send_due_reminders() == 0  # the reminder itself is now the latest
    Notification.all_orgs.update(created_at=timezone.now() - timedelta(minutes=6))
    with tenancy.org_context(owner.org.id):
        incident_services.incident_acknowledge(
            incident=incident, actor=Actor(user=owner.user), role=Role.OWNER
        )
    assert send_due_reminders() == 0  # acknowledged: no more repeats
