"""Screens 5 and 6: the monitors list (filters, search fragment, pagination, bulk
pause/resume, query count) and the monitor detail page (uptime, charts, checks,
transitions, heartbeat URL, pause/resume)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse

from accounts.models import AuditLog
from alerting.models import MonitorTransition
from monitors.models import Monitor
from pulse import tenancy
from tests.alerting.test_engine import cycle
from tests.conftest import Member
from tests.monitors.peers import WebPeer
from tests.web.conftest import htmx, incident_for, monitor_for, rollup


def fresh(monitor: Monitor) -> Monitor:
    return Monitor.all_orgs.get(id=monitor.id)


# -------------------------------------------------------------------- list


def test_the_list_shows_live_cells_and_filters(owner: Member, monitor: Monitor) -> None:
    tcp = monitor_for(owner, type="tcp", target="127.0.0.1:9", name="Database", tags=["db"])
    Monitor.all_orgs.filter(id=tcp.id).update(status="down")
    client = owner.client()
    html = client.get(reverse("monitors:list")).content.decode()
    for cell in ("row", "status", "latency", "checked"):
        assert f'id="monitor-{monitor.id}-{cell}"' in html
    assert "Checkout API" in html and "Database" in html
    assert '<option value="db">db</option>' in html  # tag filter offers every tag

    def names(query: dict[str, str]) -> set[str]:
        body = client.get(reverse("monitors:list"), query).content.decode()
        return {n for n in ("Checkout API", "Database") if n in body}

    assert names({"status": "down"}) == {"Database"}
    assert names({"type": "http"}) == {"Checkout API"}
    assert names({"tag": "DB"}) == {"Database"}
    assert names({"q": "127.0.0.1:9"}) == {"Checkout API", "Database"}
    assert names({"q": "check"}) == {"Checkout API"}
    assert names({"status": "bogus"}) == {"Checkout API", "Database"}  # ignored, not a 500


def test_search_answers_htmx_with_the_table_fragment(owner: Member, monitor: Monitor) -> None:
    response = owner.client().get(
        reverse("monitors:list"), {"q": "nothing-like-this"}, headers=htmx("monitor-table")
    )
    body = response.content.decode()
    assert body.startswith('<div id="monitor-table"') and "<html" not in body
    assert "No monitors match these filters" in body


def test_an_empty_org_is_told_what_to_do(owner: Member) -> None:
    html = owner.client().get(reverse("monitors:list")).content.decode()
    assert "No monitors yet — add your first monitor" in html


def test_pages_of_fifty(owner: Member) -> None:
    for i in range(55):
        monitor_for(owner, name=f"m{i:02d}")
    client = owner.client()
    first = client.get(reverse("monitors:list")).content.decode()
    second = client.get(reverse("monitors:list"), {"page": 2}).content.decode()
    assert first.count('name="ids"') == 50 and second.count('name="ids"') == 5
    assert "1\u201350 of 55 monitors" in first and "m54" in second and "m54" not in first


def test_the_list_runs_a_fixed_number_of_queries(
    owner: Member, django_assert_max_num_queries: Any
) -> None:
    for i in range(50):
        monitor_for(owner, name=f"m{i:02d}", tags=[f"t{i % 3}"])
    client = owner.client()
    client.get(reverse("monitors:list"))  # warm the session
    # Session, user, memberships, count, page, uptime, tags, org switcher: 8 reads, not
    # one per row; the RLS backend wraps each autocommit read in BEGIN/COMMIT (+6).
    with django_assert_max_num_queries(20):
        response = client.get(reverse("monitors:list"))
    assert response.content.decode().count('name="ids"') == 50


def test_operators_pause_and_resume_in_bulk(owner: Member, operator: Member) -> None:
    a, b = monitor_for(owner, name="a"), monitor_for(owner, name="b")
    client = operator.client()
    response = client.post(
        reverse("monitors:bulk"),
        {"action": "pause", "ids": [str(a.id), str(b.id)], "next": "/monitors/?q=x"},
    )
    assert response.status_code == 302 and response["Location"] == "/monitors/?q=x"
    assert fresh(a).paused and fresh(b).paused and fresh(a).status == "paused"
    client.post(reverse("monitors:bulk"), {"action": "resume", "ids": [str(a.id)]})
    assert not fresh(a).paused and fresh(b).paused
    with tenancy.org_context(owner.org.id):
        assert AuditLog.objects.filter(action="monitor.pause").count() == 2


def test_bulk_ignores_other_orgs_ids_and_refuses_viewers(
    owner: Member, outsider: Member, viewer: Member
) -> None:
    theirs = monitor_for(outsider, name="theirs")
    mine = monitor_for(owner, name="mine")
    response = owner.client().post(
        reverse("monitors:bulk"), {"action": "pause", "ids": [str(theirs.id), "junk"]}
    )
    assert response.status_code == 302 and not fresh(theirs).paused
    forbidden = viewer.client().post(
        reverse("monitors:bulk"), {"action": "pause", "ids": [str(mine.id)]}
    )
    assert forbidden.status_code == 403 and not fresh(mine).paused


def test_viewers_get_no_bulk_controls(viewer: Member, owner: Member) -> None:
    monitor_for(owner, name="watched")
    html = viewer.client().get(reverse("monitors:list")).content.decode()
    assert "watched" in html and "Pause selected" not in html and 'name="ids"' not in html


# ------------------------------------------------------------------ detail


def test_detail_without_data_says_so_instead_of_100_percent(
    owner: Member, monitor: Monitor
) -> None:
    html = owner.client().get(reverse("monitors:detail", args=[monitor.id])).content.decode()
    assert "100%" not in html
    assert html.count('<span class="stat__value">—</span>') == 3
    assert "No response times yet" in html and "No checks yet" in html
    # 24 hourly cells, each labelled with its time and what is known.
    cells = re.findall(r'<li class="uptime-bar__cell[^"]*" title="([^"]+)" aria-label="', html)
    assert len(cells) == 24 and all(c.endswith("no data") for c in cells)


def test_detail_draws_uptime_chart_and_bar_from_rollups(owner: Member) -> None:
    monitor = monitor_for(owner, name="API", latency_degraded_ms=300)
    rollup(owner, monitor, ago=timedelta(minutes=2), checks=4, failures=1, latency=120.0)
    rollup(owner, monitor, ago=timedelta(hours=3), checks=2, latency=80.0)
    client = owner.client()
    html = client.get(reverse("monitors:detail", args=[monitor.id])).content.decode()
    assert "83.33%" in html  # 24 h: 5 of 6 checks passed, rounded down
    assert '<path class="chart__line" d="M' in html
    assert '<line class="chart__threshold"' in html and "Degraded above 300 ms" in html
    labels = re.findall(r'class="uptime-bar__cell( is-\w+)?" title="([^"]+)"', html)
    states = [state for state, _ in labels]
    assert states.count(" is-degraded") == 1 and states.count(" is-up") == 1
    assert any("75.00% up, 4 checks" in label for _, label in labels)
    week = client.get(reverse("monitors:detail", args=[monitor.id]), {"bar": "7d"})
    assert week.content.decode().count('class="uptime-bar__cell') == 168


def test_detail_shows_real_checks_transitions_and_incidents(owner: Member, web: WebPeer) -> None:
    web.set_failing(False)
    monitor = monitor_for(owner, name="Toggle", target=web.url("/toggle"))
    assert cycle(monitor) == "up"
    web.set_failing(True)
    for _ in range(3):
        cycle(monitor)
    web.set_failing(False)
    html = owner.client().get(reverse("monitors:detail", args=[monitor.id])).content.decode()
    assert html.count("<time datetime=") >= 4
    assert "Failed</span>" in html and "status 500" in html
    with tenancy.org_context(owner.org.id):
        assert MonitorTransition.objects.filter(monitor=monitor).count() == 3
    assert "timeline__item--down" in html and "timeline__item--degraded" in html
    assert "Toggle is down" in html  # its incident


def test_monitor_incidents_fragment(owner: Member, monitor: Monitor) -> None:
    incident = incident_for(owner, monitor)
    response = owner.client().get(
        reverse("monitors:detail", args=[monitor.id]), headers=htmx("monitor-incidents")
    )
    body = response.content.decode()
    assert body.startswith('<div id="monitor-incidents"')
    assert reverse("incidents:detail", args=[incident.id]) in body
    live = owner.client().get(
        reverse("monitors:detail", args=[monitor.id]), headers=htmx("monitor-live")
    )
    assert live.content.decode().startswith('<div id="monitor-live"')


def test_push_monitors_show_their_heartbeat_urls(owner: Member, admin_member: Member) -> None:
    push = monitor_for(owner, type="push", target="", name="Nightly backup")
    html = owner.client().get(reverse("monitors:detail", args=[push.id])).content.decode()
    token = push.heartbeat_token
    for name in ("ingest_heartbeat", "ingest_heartbeat_start", "ingest_heartbeat_fail"):
        assert reverse(name, args=[token]) in html
    assert 'data-copy="hb-ping"' in html and "readonly" in html
    response = admin_member.client().post(reverse("monitors:regenerate_token", args=[push.id]))
    assert response.status_code == 302 and fresh(push).heartbeat_token != token


def test_pause_and_resume_from_the_detail_page(owner: Member, operator: Member) -> None:
    monitor = monitor_for(owner, name="pausable")
    client = operator.client()
    html = client.get(reverse("monitors:detail", args=[monitor.id])).content.decode()
    assert reverse("monitors:pause", args=[monitor.id]) in html
    assert reverse("monitors:edit", args=[monitor.id]) not in html  # operators do not edit
    response = client.post(reverse("monitors:pause", args=[monitor.id]))
    assert response.status_code == 302 and fresh(monitor).status == "paused"
    client.post(reverse("monitors:resume", args=[monitor.id]))
    assert fresh(monitor).status == "pending" and not fresh(monitor).paused


def test_viewers_see_no_controls_and_get_403_when_posting(owner: Member, viewer: Member) -> None:
    monitor = monitor_for(owner, name="readonly")
    client = viewer.client()
    html = client.get(reverse("monitors:detail", args=[monitor.id])).content.decode()
    assert "Pause</button>" not in html and "Edit</a>" not in html
    assert client.post(reverse("monitors:pause", args=[monitor.id])).status_code == 403
    assert client.post(reverse("monitors:resume", args=[monitor.id])).status_code == 403
    assert not fresh(monitor).paused


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("monitors:detail", "get"),
        ("monitors:edit", "get"),
        ("monitors:edit", "post"),
        ("monitors:delete", "post"),
        ("monitors:pause", "post"),
        ("monitors:resume", "post"),
        ("monitors:regenerate_token", "post"),
    ],
)
def test_an_outsider_gets_404_for_another_orgs_monitor(
    owner: Member, outsider: Member, name: str, method: str
) -> None:
    monitor = monitor_for(owner, name="private")
    client = outsider.client()
    response = getattr(client, method)(reverse(name, args=[monitor.id]))
    assert response.status_code == 404
    assert Monitor.all_orgs.filter(id=monitor.id, paused=False).exists()
