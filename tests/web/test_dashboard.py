"""Screen 4, the dashboard: status counts, the monitor grid with sparklines, open
incidents, the empty state, and the fragments its live regions re-fetch."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse

from monitors.models import Monitor
from tests.conftest import Member
from tests.web.conftest import htmx, incident_for, monitor_for, rollup


def test_an_empty_org_is_told_to_add_its_first_monitor(owner: Member) -> None:
    response = owner.client().get(reverse("dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "No monitors yet — add your first monitor" in html
    assert reverse("monitors:create") in html
    assert 'id="status-counts"' in html and 'ws-connect="/ws/org/"' in html


def test_a_viewer_sees_no_create_button(viewer: Member) -> None:
    html = viewer.client().get(reverse("dashboard")).content.decode()
    assert "No monitors yet" in html
    assert reverse("monitors:create") not in html
    assert "Ask an admin" in html


def test_counts_tiles_and_sparklines(owner: Member, monitor: Monitor) -> None:
    other = monitor_for(owner, name="Billing")
    Monitor.all_orgs.filter(id=other.id).update(status="down", last_latency_ms=812.4)
    for minutes in (50, 30, 10):
        rollup(owner, monitor, ago=timedelta(minutes=minutes), latency=40.0 + minutes)
    response = owner.client().get(reverse("dashboard"))
    html = response.content.decode()
    # Counts carry a glyph and a word, never colour alone.
    assert 'class="stat stat--link stat--down"' in html
    assert 'Down</span><span class="stat__value">1' in html
    assert 'Pending</span><span class="stat__value">1' in html
    # Tiles: worst status first, ids for live swaps, a server-rendered sparkline.
    assert html.index("Billing") < html.index("Checkout API")
    assert f'id="monitor-{monitor.id}-status"' in html
    assert f'id="monitor-{other.id}-latency">812 ms' in html
    assert '<svg class="sparkline"' in html and "Latency over the last hour, 50 to 90 ms" in html
    assert "No checks in the last hour" in html  # Billing has no rollups


def test_open_incidents_are_listed_and_resolved_ones_are_not(
    owner: Member, monitor: Monitor
) -> None:
    open_one = incident_for(owner, monitor)
    other = monitor_for(owner, name="Search")
    done = incident_for(owner, other, status="resolved")
    html = owner.client().get(reverse("dashboard")).content.decode()
    assert reverse("incidents:detail", args=[open_one.id]) in html
    assert reverse("incidents:detail", args=[done.id]) not in html


def test_an_outsider_sees_only_their_own_org(
    owner: Member, monitor: Monitor, outsider: Member
) -> None:
    incident_for(owner, monitor)
    html = outsider.client().get(reverse("dashboard")).content.decode()
    assert "Checkout API" not in html
    assert "No open incidents" in html


def test_live_regions_fetch_only_their_fragment(owner: Member, monitor: Monitor) -> None:
    client = owner.client()
    grid = client.get(reverse("dashboard"), headers=htmx("monitor-grid"))
    assert grid.status_code == 200
    body = grid.content.decode()
    assert body.startswith('<div id="monitor-grid"') and "Checkout API" in body
    assert "<html" not in body and "HX-Request" in grid["Vary"]
    incidents = client.get(reverse("dashboard"), headers=htmx("open-incidents"))
    assert incidents.content.decode().startswith('<div id="open-incidents"')


def test_a_user_without_an_org_is_sent_to_create_one(live_db: None) -> None:
    from django.test import Client

    from accounts.models import User
    from tests.conftest import PASSWORD

    User.objects.create_user(email="lonely@example.test", password=PASSWORD)
    client = Client()
    client.post("/login", {"email": "lonely@example.test", "password": PASSWORD})
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302 and response["Location"] == reverse("accounts:org_create")
