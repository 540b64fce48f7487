"""Turns the check_results rows of a measurement window into the figures of the
report: throughput, schedule lag, missed due slots and duplicates."""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # bench.seed needs Django set up
    from bench.seed import Fleet

US = timedelta(microseconds=1)
EARLY_S = 0.5


def _us(ts: datetime) -> int:
    """Exact microseconds since the epoch (timestamptz has microsecond precision)."""
    return (ts - datetime.fromtimestamp(0, tz=ts.tzinfo)) // US


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """Nearest-rank p50/p95/p99 and max."""
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return {
        "p50": round(rank(50), 1),
        "p95": round(rank(95), 1),
        "p99": round(rank(99), 1),
        "max": round(ordered[-1], 1),
    }


def expected_slots(fleet: Fleet, start: datetime, end: datetime) -> set[tuple[uuid.UUID, int]]:
    """(monitor, due µs) for every due time of the fleet inside [start, end)."""
    step = fleet.interval * 1_000_000
    start_us, end_us = _us(start), _us(end)
    slots: set[tuple[uuid.UUID, int]] = set()
    base = _us(fleet.base)
    for monitor_id, phase in fleet.phase_ms.items():
        first = base + phase * 1000
        k = max(0, -(-(start_us - first) // step))  # first k with first + k*step >= start
        due = first + k * step
        while due < end_us:
            slots.add((monitor_id, due))
            due += step
    return slots


def analyze(
    fleet: Fleet,
    rows: Iterable[tuple[uuid.UUID, datetime, datetime, str]],
    *,
    start: datetime,
    end: datetime,
    requests: Iterable[tuple[float, str]] = (),
) -> dict[str, object]:
    """``rows``: (monitor_id, due_at, ts, outcome) of the fleet's results around the
    window; ``requests``: (unix time, key) seen by the target."""
    duration = (end - start).total_seconds()
    expected = expected_slots(fleet, start, end)
    start_us, end_us = _us(start), _us(end)
    seen: Counter[tuple[uuid.UUID, int]] = Counter()
    lags: list[float] = []
    done_lags: list[float] = []
    outcomes: Counter[str] = Counter()
    unexpected = 0
    for monitor_id, due_at, ts, outcome in rows:
        key = (monitor_id, _us(due_at))
        seen[key] += 1
        lag = (ts - due_at).total_seconds() * 1000
        if start_us <= _us(ts) < end_us:
            done_lags.append(lag)
            outcomes[outcome] += 1
        if not start_us <= key[1] < end_us:
            continue
        if seen[key] > 1:
            continue  # a duplicate: counted below, not a second lag sample
        if key not in expected:
            unexpected += 1
        lags.append(lag)
    duplicates = sum(n - 1 for n in seen.values() if n > 1)
    missed = len(expected - set(seen))

    # When each probe reached the target, against the last due time before it (up to
    # EARLY_S early counts as on time): exact while the lag stays under one interval.
    step = fleet.interval
    arrival_lags: list[float] = []
    for at, request_key in requests:
        probed = fleet.keys.get(request_key)
        if probed is None:
            continue
        first = fleet.first_due(probed).timestamp()
        due = first + math.floor((at - first + EARLY_S) / step) * step
        if start.timestamp() <= due < end.timestamp():
            arrival_lags.append((at - due) * 1000)
    return {
        "monitors": len(fleet.phase_ms),
        "window_s": round(duration, 1),
        "due_in_window": len(expected),
        "checks_per_s_due": round(len(expected) / duration, 1),
        "checks_per_s_done": round(len(done_lags) / duration, 1),
        "results_for_window_slots": len(lags),
        "lag_ms": percentiles(lags),
        # The same over the results recorded in the window, whatever their due time:
        # the backlog's age when a system falls behind (then lag_ms has few samples).
        "lag_ms_done_in_window": percentiles(done_lags),
        "probe_arrival_lag_ms": percentiles(arrival_lags),
        "probe_arrivals": len(arrival_lags),
        "missed": missed,
        "duplicates": duplicates,
        "unexpected_due_times": unexpected,
        "outcomes": dict(outcomes),
    }
