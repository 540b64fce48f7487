"""SVG chart geometry for the hosts screen (ingest.charts): pure numbers, no colours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest.charts import HEIGHT, WIDTH, ThresholdLine, build_chart, format_compact
from pulse.db.metrics import Bucket

SINCE = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
UNTIL = SINCE + timedelta(hours=1)
STEP = timedelta(seconds=30)


def buckets(values: dict[int, float]) -> list[Bucket]:
    """Buckets by index (0..119) with the given averages."""
    return [Bucket(SINCE + STEP * i, v, v - 1, v + 1, 3) for i, v in sorted(values.items())]


def points(path: str) -> list[tuple[float, float]]:
    out = []
    for part in path.replace("M", " ").replace("L", " ").split():
        x, y = part.split(",")
        out.append((float(x), float(y)))
    return out


def test_a_line_spans_the_range_and_stays_inside_the_box() -> None:
    chart = build_chart(
        name="cpu",
        buckets=buckets({i: float(i) for i in range(120)}),
        since=SINCE,
        until=UNTIL,
        bucket=STEP,
        thresholds=[],
    )
    xs_ys = points(chart.line)
    assert chart.line.startswith("M") and chart.line.count("M") == 1
    assert all(0 <= x <= WIDTH and 0 <= y <= HEIGHT for x, y in xs_ys)
    assert xs_ys[0][1] > xs_ys[-1][1]  # rising values go up the screen
    assert (chart.low, chart.high, chart.latest, chart.samples) == ("-1", "120", "119", 360)


def test_a_gap_in_the_data_breaks_the_line() -> None:
    values = {i: 5.0 for i in range(120) if not 40 <= i < 60}
    chart = build_chart(
        name="m", buckets=buckets(values), since=SINCE, until=UNTIL, bucket=STEP, thresholds=[]
    )
    assert chart.line.count("M") == 2 and len(chart.areas) == 2


def test_the_threshold_is_drawn_even_above_the_data() -> None:
    chart = build_chart(
        name="cpu",
        buckets=buckets({i: 50.0 + i % 3 for i in range(120)}),
        since=SINCE,
        until=UNTIL,
        bucket=STEP,
        thresholds=[ThresholdLine(90.0, "hot")],
    )
    [line] = chart.thresholds
    assert 0 <= float(line.y) < min(y for _, y in points(chart.line))
    assert "hot" in chart.aria_label


def test_a_flat_series_and_a_single_point_are_still_visible() -> None:
    flat = build_chart(
        name="up",
        buckets=buckets({0: 1.0, 1: 1.0}),
        since=SINCE,
        until=UNTIL,
        bucket=STEP,
        thresholds=[],
    )
    assert {y for _, y in points(flat.line)} == {HEIGHT / 2}
    lone = build_chart(
        name="x",
        buckets=buckets({100: 3.0}),
        since=SINCE,
        until=UNTIL,
        bucket=STEP,
        thresholds=[],
    )
    assert len(points(lone.line)) == 2


def test_no_data_is_an_empty_chart() -> None:
    chart = build_chart(name="x", buckets=[], since=SINCE, until=UNTIL, bucket=STEP, thresholds=[])
    assert chart.empty and "no samples" in chart.aria_label


def test_compact_numbers() -> None:
    assert [format_compact(v) for v in (3101000000, 48213, 1027, 55.854, -2.5e6, 0)] == [
        "3.1G",
        "48.21k",
        "1027",
        "55.854",
        "-2.5M",
        "0",
    ]
