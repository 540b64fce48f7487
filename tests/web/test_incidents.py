"""Screens 8 and 9: the incidents list (status filter, live fragment) and the
incident detail page (timeline with actors, notifications sent, acknowledge /
resolve / note by role)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from incidents.models import Incident, IncidentEvent
from monitors.models import Monitor
from notifications.models import Channel, Notification
from pulse import tenancy
from tests.alerting.test_engine import cycle
from tests.conftest import Member
from tests.monitors.peers import WebPeer
from tests.web.conftest import htmx, incident_for, monitor_for


def test_the_list_filters_by_status(owner: Member, monitor: Monitor) -> None:
    other = monitor_for(owner, name="Search")
    open_one = incident_for(owner, monitor)
    resolved = incident_for(owner, other, status="resolved")
    client = owner.client()
    html = client.get(reverse("incidents:list")).content.decode()
    assert "Checkout API is down" in html and "Search is down" in html
    assert 'All <span class="tabs__count">2</span>' in html
    opened = client.get(reverse("incidents:list"), {"status": "open"}).content.decode()
    assert reverse("incidents:detail", args=[open_one.id]) in opened
    assert reverse("incidents:detail", args=[resolved.id]) not in opened
    empty = client.get(reverse("incidents:list"), {"status": "acknowledged"}).content.decode()
    assert "No acknowledged incidents" in empty


def test_the_list_fragment_and_the_empty_state(owner: Member) -> None:
    client = owner.client()
    html = client.get(reverse("incidents:list")).content.decode()
    assert "No incidents yet" in html and 'ws-connect="/ws/org/"' in html
    fragment = client.get(reverse("incidents:list"), headers=htmx("incidents-table"))
    body = fragment.content.decode()
    assert body.startswith('<div id="incidents-table"') and "<html" not in body


def test_the_list_is_not_n_plus_one(owner: Member, django_assert_max_num_queries: Any) -> None:
    for i in range(20):
        incident_for(owner, monitor_for(owner, name=f"m{i}"))
    client = owner.client()
    client.get(reverse("incidents:list"))
    with django_assert_max_num_queries(20):
        html = client.get(reverse("incidents:list")).content.decode()
    assert html.count("is down</a>") == 20


def test_a_real_outage_reads_as_a_timeline_with_notifications(owner: Member, web: WebPeer) -> None:
    web.set_failing(False)
    monitor = monitor_for(owner, name="Shop", target=web.url("/toggle"))
    with tenancy.org_context(owner.org.id):
        channel = Channel.objects.create(
            kind="webhook", name="Ops hook", config={"url": "http://127.0.0.1:9/hook"}
        )
    from accounts.audit import Actor
    from accounts.models import Role
    from alerting import services as alert_services

    with tenancy.org_context(owner.org.id):
        alert_services.rule_create(
            actor=Actor(user=owner.user),
            role=Role.OWNER,
            data={"name": "Page", "events": ["down", "recovered"], "channels": [channel.id]},
        )
    cycle(monitor)
    web.set_failing(True)
    for _ in range(3):
        cycle(monitor)
    incident = Incident.all_orgs.get(monitor=monitor)
    Notification.all_orgs.filter(incident=incident).update(
        status="failed", attempts=2, last_error="connection refused"
    )
    html = owner.client().get(reverse("incidents:detail", args=[incident.id])).content.decode()
    assert "Opened" in html and "Pulse (state machine)" in html
    assert "Down after 3 failing checks" in html
    assert "Ops hook" in html and "Retrying" in html and "connection refused" in html
    assert f'id="monitor-{monitor.id}-status"' in html


def test_operators_acknowledge_note_and_resolve(owner: Member, operator: Member) -> None:
    incident = incident_for(owner, monitor_for(owner, name="db"))
    client = operator.client()
    url = reverse("incidents:detail", args=[incident.id])
    html = client.get(url).content.decode()
    assert reverse("incidents:acknowledge", args=[incident.id]) in html
    response = client.post(reverse("incidents:acknowledge", args=[incident.id]))
    assert response.status_code == 302 and response["Location"] == url
    response = client.post(reverse("incidents:note", args=[incident.id]), {"text": "On it."})
    assert response.status_code == 302
    blank = client.post(reverse("incidents:note", args=[incident.id]), {"text": "  "})
    assert blank.status_code == 400 and "Write something first." in blank.content.decode()
    client.post(reverse("incidents:resolve", args=[incident.id]))
    incident.refresh_from_db(using="system")
    assert incident.status == "resolved" and incident.resolution == "manual"
    kinds = list(
        IncidentEvent.all_orgs.filter(incident=incident)
        .order_by("ts")
        .values_list("kind", "actor_label")
    )
    assert kinds[1:] == [
        ("acknowledged", "operator@alpha.test"),
        ("note", "operator@alpha.test"),
        ("resolved", "operator@alpha.test"),
    ]
    html = client.get(url).content.decode()
    assert "On it." in html and "operator@alpha.test" in html
    assert reverse("incidents:acknowledge", args=[incident.id]) not in html


def test_viewers_see_no_actions_and_get_403(owner: Member, viewer: Member) -> None:
    incident = incident_for(owner, monitor_for(owner, name="db"))
    client = viewer.client()
    html = client.get(reverse("incidents:detail", args=[incident.id])).content.decode()
    assert "Acknowledge</button>" not in html and 'name="text"' not in html
    for name in ("incidents:acknowledge", "incidents:resolve", "incidents:note"):
        assert client.post(reverse(name, args=[incident.id]), {"text": "x"}).status_code == 403
    incident.refresh_from_db(using="system")
    assert incident.status == "open"


def test_the_detail_live_region_fragment(owner: Member) -> None:
    incident = incident_for(owner, monitor_for(owner, name="db"))
    response = owner.client().get(
        reverse("incidents:detail", args=[incident.id]), headers=htmx("incident-live")
    )
    body = response.content.decode()
    assert body.startswith('<div id="incident-live"') and "Timeline" in body


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("incidents:detail", "get"),
        ("incidents:acknowledge", "post"),
        ("incidents:resolve", "post"),
        ("incidents:note", "post"),
    ],
)
def test_an_outsider_gets_404_for_another_orgs_incident(
    owner: Member, outsider: Member, name: str, method: str
) -> None:
    incident = incident_for(owner, monitor_for(owner, name="private"))
    response = getattr(outsider.client(), method)(reverse(name, args=[incident.id]))
    assert response.status_code == 404
    incident.refresh_from_db(using="system")
    assert incident.status == "open"
