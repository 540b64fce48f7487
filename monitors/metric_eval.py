"""Metric monitors: a threshold on pushed host metrics (SPEC §5, ``cpu.usage > 90 for 5m``).

The config's comparison is the *alert* condition. It holds — and the check FAILS — when
the metric has satisfied ``value <op> threshold`` for at least ``for_seconds``:

* the newest sample at or before ``now - for_seconds`` (the anchor; it may lie up to
  two check intervals before that instant, the gap an agent may leave) exists, so the
  data spans the whole window, and
* that sample and every later one satisfy the comparison (every series of the name:
  labels are not told apart).

With ``for_seconds = 0`` that is the latest sample alone. Too little history to span
the window is OK (not yet confirmed), as is any sample on the good side. No sample in
the last ``max(2 * interval, for_seconds)`` FAILS with "no samples": a silent agent is
an outage too. Samples dated more than a minute ahead of the server are not seen.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from monitors.models import Monitor
from monitors.probes.base import Outcome, ProbeResult
from pulse.db.metrics import Condition, ConditionState, condition_states

OP_SYMBOLS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def format_duration(seconds: int) -> str:
    """300 → "5m", 90 → "90s", 5400 → "1h30m", 86400 → "24h"."""
    if seconds % 60:
        return f"{seconds}s"
    hours, minutes = divmod(seconds // 60, 60)
    if not hours:
        return f"{minutes}m"
    return f"{hours}h{minutes}m" if minutes else f"{hours}h"


def format_value(value: float) -> str:
    """97.2 → "97.2", 90.0 → "90", 312238080.0 → "312238080", 0.00012 → "0.00012"."""
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.6g}" if abs(value) < 1e-3 or abs(value) >= 1e15 else f"{value:.3f}"
    return text.rstrip("0").rstrip(".") if "e" not in text else text


def describe(config: Mapping[str, Any]) -> str:
    """``cpu.usage > 90 for 5m`` (no ``for`` when it is 0)."""
    op = OP_SYMBOLS.get(str(config.get("op")), "?")
    text = f"{config.get('metric')} {op} {format_value(float(config.get('threshold', 0)))}"
    window = int(config.get("for_seconds") or 0)
    return f"{text} for {format_duration(window)}" if window else text


def _condition(monitor: Monitor, ref: datetime) -> Condition:
    config = monitor.config
    return Condition(
        org_id=monitor.org_id,
        host=str(config.get("host", "")),
        metric=str(config.get("metric", "")),
        op=str(config.get("op", "gt")),
        threshold=float(config.get("threshold", 0)),
        window=timedelta(seconds=int(config.get("for_seconds") or 0)),
        grace=timedelta(seconds=2 * monitor.interval_seconds),
        ref=ref,
    )


def _result(monitor: Monitor, cond: Condition, state: ConditionState) -> ProbeResult:
    host, metric = cond.host, cond.metric
    stale_after = max(timedelta(seconds=2 * monitor.interval_seconds), cond.window)
    details: dict[str, object] = {"host": host, "metric": metric}
    if state.latest_ts is not None:
        details |= {"latest": state.latest_value, "latest_at": state.latest_ts.isoformat()}
    if state.latest_ts is None or state.latest_ts <= cond.ref - stale_after:
        since = (
            f"since {state.latest_ts.isoformat(timespec='seconds')}"
            if state.latest_ts is not None
            else "yet"
            if state.host_known
            else "yet (no such host has pushed metrics)"
        )
        return ProbeResult(
            Outcome.FAIL, None, error=f"no samples of {metric} from {host} {since}", details=details
        )
    latest = state.latest_value if state.latest_value is not None else math.nan
    details |= {"samples_in_window": state.in_window, "violations": state.violations}
    holds = state.anchor is not None and state.in_window > 0 and state.violations == 0
    if holds:
        text = f"{describe(monitor.config)} on {host} (latest {format_value(latest)})"
        return ProbeResult(Outcome.FAIL, None, error=text, details=details)
    return ProbeResult(Outcome.OK, None, details=details)


def evaluate_metrics(
    monitors: Sequence[Monitor], due: dict[uuid.UUID, datetime]
) -> dict[uuid.UUID, ProbeResult]:
    """Every metric monitor of a batch in one query (any orgs)."""
    now = timezone.now()
    conditions, valid = [], []
    results: dict[uuid.UUID, ProbeResult] = {}
    for monitor in monitors:
        try:
            cond = _condition(monitor, max(due[monitor.id], now))
        except (TypeError, ValueError):
            results[monitor.id] = ProbeResult(Outcome.FAIL, None, error="invalid metric config")
            continue
        if cond.op not in OP_SYMBOLS or not cond.host or not cond.metric:
            results[monitor.id] = ProbeResult(Outcome.FAIL, None, error="invalid metric config")
            continue
        conditions.append(cond)
        valid.append(monitor)
    for monitor, cond, state in zip(valid, conditions, condition_states(conditions), strict=True):
        results[monitor.id] = _result(monitor, cond, state)
    return results


def evaluate_metric(monitor: Monitor, due_at: datetime) -> ProbeResult:
    return evaluate_metrics([monitor], {monitor.id: due_at})[monitor.id]
