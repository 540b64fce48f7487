"""A stopped clock for the fixed-window rate limiters (django-ratelimit for log-ins,
``pulse.api_throttle`` for /v1).

A fixed-window counter starts again from zero when its window ends; a test that
counts requests up to a limit of "3/m" would pass or fail depending on whether a
window boundary fell between its requests, which a busy machine makes likelier.
With the limiters' clock stopped, every request of the test falls in one window.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import django_ratelimit.core
import pytest

from pulse import api_throttle


def stop_rate_clocks(monkeypatch: pytest.MonkeyPatch, at: float | None = None) -> float:
    """Stop the limiters' clock at ``at`` (default: 30 s into the current minute, so a
    /v1 window has 30 s left) and return it."""
    if at is None:
        at = float(int(time.time()) // 60 * 60 + 30)
    stopped = SimpleNamespace(time=lambda: at)
    monkeypatch.setattr(django_ratelimit.core, "time", stopped)
    monkeypatch.setattr(api_throttle, "time", stopped)
    return at
