"""The one place a recorded batch of check results goes (SPEC §5.3-5.5): the alert
engine evaluates it inside the recording transaction, and the realtime layer
publishes it after commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pulse.db import SYSTEM_DB
from pulse.db.checks import ResultRow

# Realtime publishers register here (after-commit consumers of check.result).
_after_commit: list[Callable[[Sequence[ResultRow]], None]] = []


def on_after_commit(listener: Callable[[Sequence[ResultRow]], None]) -> None:
    _after_commit.append(listener)


def check_results_recorded(rows: Sequence[ResultRow]) -> None:
    """Called inside the transaction that recorded ``rows`` (system alias)."""
    from alerting.engine import evaluate_results

    evaluate_results(rows)
    if _after_commit:
        from django.db import transaction

        transaction.on_commit(
            lambda: [listener(rows) for listener in _after_commit], using=SYSTEM_DB
        )
