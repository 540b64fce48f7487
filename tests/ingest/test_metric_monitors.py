"""Metric monitors end to end: samples pushed, the monitor claimed and run by the real
check batch (monitors.checks.run_batch), the result and the state machine."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import connections

from incidents.models import Incident
from ingest.parsers import Sample
from ingest.services import metrics_ingest
from monitors.checks import run_batch
from monitors.metric_eval import evaluate_metrics, format_duration, format_value
from monitors.models import CheckResult, Monitor
from pulse import tenancy
from tests.conftest import Member
from tests.monitors.test_pipeline import claim_all, make, make_due, run_claimed


def metric_monitor(owner: Member, **config: Any) -> Monitor:
    config = {"host": "web-1", "metric": "cpu.usage", "op": "gt", "threshold": 90, **config}
    return make(owner, type="metric", interval_seconds=60, config=config)


def series(member: Member, values_by_age: dict[int, float], *, host: str = "web-1") -> None:
    """Store cpu.usage samples ``age`` seconds old."""
    now = time.time()
    metrics_ingest(
        org_id=member.org.id,
        host=host,
        samples=[Sample("cpu.usage", v, now - age) for age, v in values_by_age.items()],
    )


def every_10s(seconds: int, value: float, last: float | None = None) -> dict[int, float]:
    values = {age: value for age in range(seconds, -1, -10)}
    if last is not None:
        values[0] = last
    return values


def check(monitor: Monitor) -> CheckResult:
    make_due(monitor)
    run_claimed(claim_all())
    with tenancy.org_context(monitor.org_id):  # the system role only writes results
        return CheckResult.objects.filter(monitor_id=monitor.id).order_by("-ts").first()  # type: ignore[return-value]


def test_it_fails_when_the_condition_held_for_the_whole_window(owner: Member) -> None:
    monitor = metric_monitor(owner, for_seconds=300)
    series(owner, every_10s(360, 95.0, last=97.2))
    result = check(monitor)
    assert result.outcome == "fail"
    assert result.error == "cpu.usage > 90 for 5m on web-1 (latest 97.2)"
    assert result.details["latest"] == 97.2 and result.details["violations"] == 0


def test_it_is_ok_while_the_data_does_not_span_the_window_yet(owner: Member) -> None:
    monitor = metric_monitor(owner, for_seconds=300)
    series(owner, every_10s(180, 99.0))
    result = check(monitor)
    assert (result.outcome, result.error) == ("ok", "")


def test_one_sample_on_the_good_side_inside_the_window_keeps_it_ok(owner: Member) -> None:
    monitor = metric_monitor(owner, for_seconds=300)
    values = every_10s(360, 95.0)
    values[120] = 50.0
    series(owner, values)
    result = check(monitor)
    assert result.outcome == "ok" and result.details["violations"] == 1


def test_a_good_sample_before_the_window_does_not_matter(owner: Member) -> None:
    monitor = metric_monitor(owner, for_seconds=300)
    values = every_10s(360, 95.0)
    values[340] = 10.0  # older than the anchor at ~300 s
    series(owner, values)
    assert check(monitor).outcome == "fail"


def test_for_zero_seconds_looks_at_the_latest_sample_only(owner: Member) -> None:
    monitor = metric_monitor(owner)
    series(owner, {30: 10.0, 20: 20.0, 1: 97.2})
    result = check(monitor)
    assert result.error == "cpu.usage > 90 on web-1 (latest 97.2)"
    series(owner, {0: 89.9})
    assert check(monitor).outcome == "ok"


@pytest.mark.parametrize(
    ("op", "value", "outcome"),
    [
        ("gt", 90.0, "ok"),
        ("ge", 90.0, "fail"),
        ("lt", 90.0, "ok"),
        ("le", 90.0, "fail"),
        ("lt", 89.5, "fail"),
    ],
)
def test_each_comparison_at_the_threshold(
    owner: Member, op: str, value: float, outcome: str
) -> None:
    monitor = metric_monitor(owner, op=op)
    series(owner, {1: value})
    assert check(monitor).outcome == outcome


def test_no_samples_at_all_fails_saying_so(owner: Member) -> None:
    monitor = metric_monitor(owner)
    result = check(monitor)
    assert result.outcome == "fail"
    assert result.error == (
        "no samples of cpu.usage from web-1 yet (no such host has pushed metrics)"
    )
    series(owner, {5: 1.0}, host="web-1")
    other = metric_monitor(owner, metric="mem.used")
    assert check(other).error == "no samples of mem.used from web-1 yet"


def test_stale_samples_fail_with_the_time_of_the_last_one(owner: Member) -> None:
    monitor = metric_monitor(owner, for_seconds=60)  # stale after max(2 x 60 s, 60 s)
    series(owner, {200: 99.0, 130: 99.0})
    result = check(monitor)
    assert result.outcome == "fail"
    assert result.error.startswith("no samples of cpu.usage from web-1 since 20")
    assert result.details["latest"] == 99.0


def test_another_orgs_host_of_the_same_name_does_not_count(owner: Member, outsider: Member) -> None:
    monitor = metric_monitor(owner)
    series(outsider, {1: 99.0}, host="web-1")
    assert check(monitor).error.startswith("no samples of cpu.usage from web-1 yet")
    series(owner, {1: 5.0}, host="web-1")
    assert check(monitor).outcome == "ok"


def test_a_batch_evaluates_all_its_metric_monitors_in_one_query(
    owner: Member, django_assert_num_queries: Any
) -> None:
    monitors = [metric_monitor(owner, threshold=t) for t in (10, 50, 90)]
    series(owner, {1: 60.0})
    due = {m.id: m.next_check_at for m in monitors}
    with django_assert_num_queries(1, connection=connections["system"]):
        results = evaluate_metrics(monitors, due)
    assert [results[m.id].outcome for m in monitors] == ["fail", "fail", "ok"]


def test_crossing_the_threshold_takes_the_monitor_down_and_back_up(owner: Member) -> None:
    monitor = metric_monitor(owner, threshold=80)
    series(owner, {1: 10.0})

    def cycle() -> str:
        make_due(monitor)
        run_batch([(c.monitor_id, c.due_at) for c in claim_all()])
        return str(Monitor.all_orgs.get(id=monitor.id).status)

    assert cycle() == "up"
    series(owner, {0: 95.0})
    assert [cycle() for _ in range(3)] == ["degraded", "degraded", "down"]
    [incident] = Incident.all_orgs.filter(monitor=monitor)
    assert "cpu.usage > 80 on web-1 (latest 95)" in incident.cause
    series(owner, {0: 20.0})
    assert [cycle() for _ in range(2)] == ["down", "up"]
    incident.refresh_from_db(using="system")
    assert incident.status == "resolved"


def test_texts() -> None:
    assert [format_duration(s) for s in (30, 90, 300, 3600, 5400, 86400)] == [
        "30s",
        "90s",
        "5m",
        "1h",
        "1h30m",
        "24h",
    ]
    assert [format_value(v) for v in (97.2, 90.0, 312238080.0, 0.00012, -0.5)] == [
        "97.2",
        "90",
        "312238080",
        "0.00012",
        "-0.5",
    ]
