"""When results become visible to other connections (committed), for a sample of the
fleet: a thread reads ``monitors.last_check_at`` of the sampled monitors (primary key,
so the cost does not grow with the fleet) every ``period`` seconds. The app sets it in
the transaction that stores the result, to the result's ``ts``; the result's due time
is the monitor's last due slot at or before that ``ts``.

``ts`` is when the app says the probe finished; this is when a reader (the dashboard,
the API) can see it: ``visible_lag = first seen - due``, to within one period."""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime

from bench.analyze import EARLY_S, percentiles


class Visibility(threading.Thread):
    def __init__(
        self,
        monitor_ids: list[uuid.UUID],
        first_due: Callable[[uuid.UUID], datetime],
        interval: int,
        period: float = 0.1,
    ) -> None:
        super().__init__(name="bench-visibility", daemon=True)
        self.monitor_ids = monitor_ids
        self.first_due = first_due
        self.interval = interval
        self.period = period
        self.first_seen: dict[tuple[uuid.UUID, datetime], float] = {}
        self.polls = 0
        self._halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        from django.db import connections

        from monitors.models import Monitor

        try:
            while not self._halt.is_set():
                began = time.monotonic()
                rows = Monitor.all_orgs.filter(
                    id__in=self.monitor_ids, last_check_at__isnull=False
                ).values_list("id", "last_check_at")
                now = time.time()
                for monitor_id, last_check_at in rows:
                    if last_check_at is not None:
                        self.first_seen.setdefault((monitor_id, last_check_at), now)
                self.polls += 1
                self._halt.wait(max(0.0, self.period - (time.monotonic() - began)))
        except BaseException as exc:
            self.error = exc
        finally:
            connections.close_all()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)

    def report(self, start: datetime, end: datetime) -> dict[str, object]:
        lags = []
        for (monitor_id, ts), seen in self.first_seen.items():
            try:
                first = self.first_due(monitor_id).timestamp()
            except RuntimeError:  # not activated: nothing was due
                continue
            at = ts.timestamp()
            due = first + math.floor((at - first + EARLY_S) / self.interval) * self.interval
            if start.timestamp() <= due < end.timestamp():
                lags.append((seen - due) * 1000)
        return {
            "sampled_monitors": len(self.monitor_ids),
            "poll_period_ms": round(self.period * 1000),
            "samples": len(lags),
            **percentiles(lags),
            "error": repr(self.error) if self.error else None,
        }
