"""Geometry for the server-rendered SVG line charts of the hosts screen.

Pure numbers and strings: the template draws them with the ``.chart*`` classes of
static/css/app.css (colours come from tokens), so nothing here knows a colour. The
SVG is stretched to its box (``preserveAspectRatio="none"``; strokes do not scale), so
axis text is HTML around it, not SVG text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitors.metric_eval import format_value
from pulse.db.metrics import Bucket

WIDTH = 600
HEIGHT = 200
GRID_LINES = 4


@dataclass(frozen=True)
class ThresholdLine:
    value: float
    label: str
    y: str = ""


@dataclass
class Chart:
    name: str
    line: str = ""  # path d: M/L segments, broken where data is missing
    areas: list[str] = field(default_factory=list)
    grid: list[str] = field(default_factory=list)
    thresholds: list[ThresholdLine] = field(default_factory=list)
    y_top: str = ""
    y_bottom: str = ""
    latest: str = ""
    low: str = ""
    high: str = ""
    samples: int = 0
    series_count: int = 0

    @property
    def empty(self) -> bool:
        return not self.line

    @property
    def aria_label(self) -> str:
        if self.empty:
            return f"{self.name}: no samples in this range"
        text = f"{self.name}: latest {self.latest}, lowest {self.low}, highest {self.high}"
        for threshold in self.thresholds:
            text += f"; {threshold.label}"
        return text


def format_compact(value: float) -> str:
    """Chart labels: 3101000000 → "3.1G", 48213 → "48.21k", 55.854 → "55.854"."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e4)):
        if abs(value) >= scale:
            scale = 1e3 if unit == "k" else scale
            return f"{format_value(round(value / scale, 2))}{unit}"
    return format_value(value)


def _fmt(number: float) -> str:
    return f"{number:.1f}".rstrip("0").rstrip(".")


def build_chart(
    *,
    name: str,
    buckets: list[Bucket],
    since: datetime,
    until: datetime,
    bucket: timedelta,
    thresholds: list[ThresholdLine],
    series_count: int = 1,
    latest: float | None = None,
) -> Chart:
    """``latest``: the newest sample's value (the last bucket is an average)."""
    chart = Chart(name=name, series_count=series_count)
    chart.grid = [_fmt(HEIGHT * i / GRID_LINES) for i in range(GRID_LINES + 1)]
    if not buckets:
        chart.thresholds = thresholds
        return chart
    values = [b.avg for b in buckets] + [t.value for t in thresholds]
    low, high = min(values), max(values)
    if math.isclose(low, high):
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    else:
        pad = (high - low) * 0.08
        low, high = (low - pad if low < 0 or low - pad >= 0 else 0.0), high + pad
    span_t = (until - since).total_seconds()

    def x(ts: datetime) -> float:
        return (ts - since).total_seconds() / span_t * WIDTH

    def y(value: float) -> float:
        return HEIGHT - (value - low) / (high - low) * HEIGHT

    # A gap of more than two buckets (agent down) breaks the line.
    segments: list[list[tuple[float, float]]] = []
    previous: datetime | None = None
    for b in buckets:
        mid = b.start + bucket / 2
        if previous is None or mid - previous > bucket * 2:
            segments.append([])
        segments[-1].append((x(mid), y(b.avg)))
        previous = mid
    parts = []
    for seg in segments:
        if len(seg) == 1:  # a lone point: a short flat stroke so it shows
            seg = [(seg[0][0] - 1.5, seg[0][1]), (seg[0][0] + 1.5, seg[0][1])]
        parts.append("M" + " L".join(f"{_fmt(px)},{_fmt(py)}" for px, py in seg))
        chart.areas.append(
            parts[-1] + f" L{_fmt(seg[-1][0])},{HEIGHT} L{_fmt(seg[0][0])},{HEIGHT} Z"
        )
    chart.line = " ".join(parts)
    chart.thresholds = [
        ThresholdLine(value=t.value, label=t.label, y=_fmt(y(t.value))) for t in thresholds
    ]
    chart.y_top, chart.y_bottom = format_compact(high), format_compact(low)
    chart.latest = format_compact(buckets[-1].avg if latest is None else latest)
    chart.low = format_compact(min(b.low for b in buckets))
    chart.high = format_compact(max(b.high for b in buckets))
    chart.samples = sum(b.count for b in buckets)
    return chart
