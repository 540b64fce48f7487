"""The hosts & metrics screen (SPEC §10 #13): list, detail with SVG charts and
threshold lines, tenant isolation, bounded queries."""

from __future__ import annotations

import re
import time
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ingest.models import Host
from ingest.parsers import Sample
from ingest.services import metrics_ingest
from pulse import tenancy
from tests.conftest import Member
from tests.monitors.test_pipeline import make


def push_series(
    member: Member, host: str = "web-1", names: tuple[str, ...] = ("cpu.usage",)
) -> Host:
    now = time.time()
    metrics_ingest(
        org_id=member.org.id,
        host=host,
        samples=[
            Sample(name, 40.0 + (age % 50), now - age)
            for name in names
            for age in range(0, 3600, 20)
        ],
    )
    with tenancy.org_context(member.org.id):
        return Host.objects.get(name=host)


def test_the_list_shows_hosts_metrics_and_counts(
    owner: Member, django_assert_max_num_queries: Any
) -> None:
    push_series(owner, "web-1", ("cpu.usage", "mem.used"))
    push_series(owner, "db-1", ("load.load.shortterm",))
    client = owner.client()
    # Session, user, membership, org switcher; the page itself: hosts, then their
    # metrics (each statement in its own short transaction that sets the org).
    with django_assert_max_num_queries(16):
        response = client.get(reverse("ingest_ui:hosts"))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("db-1") < html.index("web-1")
    assert "cpu.usage, mem.used" in html and "2 metrics" in html
    assert ">360<" in html and ">180<" in html  # samples per host
    assert 'data-nav-key="hosts"' in html


def test_the_list_query_count_does_not_grow_with_hosts(owner: Member) -> None:
    client = owner.client()
    url = reverse("ingest_ui:hosts")
    push_series(owner, "first", ("a",))
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for i in range(5):
        push_series(owner, f"h{i}", ("a", "b", "c"))
    with CaptureQueriesContext(connection) as six:
        assert b"h4" in client.get(url).content
    assert len(six) == len(one)


def test_an_empty_org_explains_how_to_push(owner: Member) -> None:
    response = owner.client().get(reverse("ingest_ui:hosts"))
    html = response.content.decode()
    assert "No host has pushed metrics yet" in html
    assert "/v1/ingest/metrics" in html and "write_http" in html


def test_the_detail_draws_a_chart_per_metric_with_monitor_thresholds(owner: Member) -> None:
    host = push_series(owner, "web-1", ("cpu.usage", "mem.used"))
    make(
        owner,
        type="metric",
        name="CPU hot",
        config={
            "host": "web-1",
            "metric": "cpu.usage",
            "op": "gt",
            "threshold": 85,
            "for_seconds": 300,
        },
    )
    response = owner.client().get(reverse("ingest_ui:host_detail", args=[host.id]))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('<path class="chart__line"') == 2
    [threshold] = re.findall(r'<line class="chart__threshold"[^>]*y1="([\d.]+)"', html)
    assert 0 < float(threshold) < 200
    assert "CPU hot: alert when cpu.usage &gt; 85 for 5m" in html
    # The monitored metric is charted first.
    assert html.index("chart-1-title") < html.index(">cpu.usage<") < html.index(">mem.used<")
    assert "style=" not in html.split("<main", 1)[1]  # CSP: no inline styles


def test_the_detail_shows_24h_and_a_single_metric(owner: Member) -> None:
    host = push_series(owner, "web-1", ("cpu.usage", "mem.used"))
    client = owner.client()
    url = reverse("ingest_ui:host_detail", args=[host.id])
    html = client.get(url, {"range": "24h", "metric": "mem.used"}).content.decode()
    assert html.count('<path class="chart__line"') == 1
    assert 'aria-current="page">Last 24h' in html
    assert client.get(url, {"metric": "nope"}).status_code == 404
    assert client.get(url, {"range": "bogus"}).status_code == 200  # falls back to 1h


def test_a_metric_without_recent_samples_shows_an_empty_chart(owner: Member) -> None:
    metrics_ingest(org_id=owner.org.id, host="old", samples=[Sample("m", 1.0, time.time() - 7200)])
    with tenancy.org_context(owner.org.id):
        host = Host.objects.get(name="old")
    html = owner.client().get(reverse("ingest_ui:host_detail", args=[host.id])).content.decode()
    assert "No samples in the last 1h" in html


def test_another_orgs_host_is_404(owner: Member, outsider: Member) -> None:
    theirs = push_series(outsider, "secret-host")
    client = owner.client()
    response = client.get(reverse("ingest_ui:host_detail", args=[theirs.id]))
    assert response.status_code == 404
    assert "secret-host" not in client.get(reverse("ingest_ui:hosts")).content.decode()


def test_a_viewer_may_look(viewer: Member) -> None:
    assert viewer.client().get(reverse("ingest_ui:hosts")).status_code == 200


def test_anonymous_is_sent_to_log_in(live_db: None) -> None:
    from django.test import Client

    response = Client().get(reverse("ingest_ui:hosts"))
    assert response.status_code == 302 and "/login" in response["Location"]
