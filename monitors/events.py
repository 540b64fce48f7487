"""The one place a recorded batch of check results goes (SPEC §5.3-5.5): the alert
engine evaluates it inside the recording transaction, the results and new states are
stored, and realtime listeners get it after commit."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from django.db import transaction

from monitors.models import Monitor
from pulse.db import SYSTEM_DB
from pulse.db.checks import ResultRow, store_results
from pulse.metrics import observe_check_durations

# Realtime publishers register here (after-commit consumers of check.result).
_after_commit: list[Callable[[Sequence[ResultRow]], None]] = []


def on_after_commit(listener: Callable[[Sequence[ResultRow]], None]) -> None:
    _after_commit.append(listener)


def check_results_recorded(
    rows: Sequence[ResultRow], monitors: dict[uuid.UUID, Monitor], cache: Any = None
) -> None:
    """Called inside the recording transaction, with ``monitors`` locked. ``cache``: the
    alerting configuration of the batch (``alerting.engine.ConfigCache``)."""
    from alerting.engine import evaluate

    if not rows:
        return
    updates = evaluate(rows, monitors, cache)
    store_results(rows, updates)
    # The latency histogram spans every checks worker (Redis), counted once committed.
    transaction.on_commit(
        partial(observe_check_durations, [r.latency_ms for r in rows]), using=SYSTEM_DB
    )
    if _after_commit:
        published = list(rows)
        transaction.on_commit(
            lambda: [listener(published) for listener in _after_commit], using=SYSTEM_DB
        )
