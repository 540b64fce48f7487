"""Realtime publisher (SPEC §5.5): what changed in an org goes to its Channels group
after commit, coalesced per org to at most one message every 250 ms per process.

Two sources feed it:

* recorded check results, through ``monitors.events.on_after_commit`` (registered
  when this module is imported, so the process that records results must import it:
  the worker does through ``PulseConfig.ready``);
* staff actions, through :func:`publish_org_event` / :func:`publish_on_commit`, called
  by services once their transaction has committed.

Listeners only buffer (they run on the recording thread, right after its commit); a
daemon thread per process flushes: it reads the changed monitors' current rows and
the org's status counts through the RLS-bound alias inside the org's tenant context,
then ``group_send``s one message per org. The first change after a quiet spell goes
out at once (leading edge); changes arriving within 250 ms of the last message wait
for the next slot (trailing edge), so a burst costs at most two messages per window.
Consumers (``pulse.consumers``) turn each message into HTML fragments.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import structlog
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Q

from monitors import events
from pulse import tenancy
from pulse.db.checks import ResultRow

log = structlog.get_logger(__name__)

FLUSH_INTERVAL = 0.25  # seconds between two messages for the same org (SPEC §5.5)
IDLE_CLOSE_AFTER = 30.0  # close the flusher's DB connection after this long without work
MESSAGE_TYPE = "org.update"  # → PulseOrgConsumer.org_update

# Kinds services may publish, and what each one means for the pages.
MONITOR_KINDS = frozenset(
    {"monitor.created", "monitor.updated", "monitor.paused", "monitor.resumed"}
)
MONITOR_MEMBERSHIP_KINDS = frozenset({"monitor.created", "monitor.updated", "monitor.deleted"})
INCIDENT_KINDS = frozenset(
    {
        "incident.opened",
        "incident.acknowledged",
        "incident.resolved",
        "incident.note",
        "incident.updated",
    }
)
KINDS = MONITOR_KINDS | INCIDENT_KINDS | {"monitor.deleted"}


def group_name(org_id: uuid.UUID | str) -> str:
    """The org's Channels group: ascii, well under the layer's 100-character limit."""
    return f"org.{uuid.UUID(str(org_id))}"


@dataclass
class _Pending:
    monitor_ids: set[uuid.UUID] = field(default_factory=set)
    removed_ids: set[uuid.UUID] = field(default_factory=set)
    # Earliest result time in the buffer: incidents opened or resolved since then were
    # made by these results (the engine stamps them with the result's ts).
    results_since: datetime | None = None
    incidents_changed: bool = False
    monitors_changed: bool = False

    def merge_results(self, rows: Iterable[ResultRow]) -> None:
        for row in rows:
            self.monitor_ids.add(row.monitor_id)
            if self.results_since is None or row.ts < self.results_since:
                self.results_since = row.ts


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


class Publisher:
    """Per-process buffer + flusher thread. Fork-safe: a forked child (Celery prefork)
    starts with an empty buffer and its own thread."""

    def __init__(self, interval: float = FLUSH_INTERVAL) -> None:
        self.interval = interval
        self.source = uuid.uuid4().hex[:12]
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._pending: dict[uuid.UUID, _Pending] = {}
        self._last_sent: dict[uuid.UUID, float] = {}
        self._thread: threading.Thread | None = None
        self._seq = 0
        self.sent = 0  # messages handed to the channel layer (tests, metrics)

    # ------------------------------------------------------------------ producers

    def results_recorded(self, rows: Sequence[ResultRow]) -> None:
        """``monitors.events`` listener: runs right after the recording commit."""
        by_org: dict[uuid.UUID, list[ResultRow]] = {}
        for row in rows:
            by_org.setdefault(row.org_id, []).append(row)
        with self._cond:
            for org_id, org_rows in by_org.items():
                self._pending_for(org_id).merge_results(org_rows)
            self._wake()

    def event(self, org_id: uuid.UUID | str, kind: str, data: Mapping[str, Any]) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown realtime event kind {kind!r}; one of {sorted(KINDS)}")
        org = _as_uuid(org_id)
        monitor_id = data.get("monitor_id")
        with self._cond:
            pending = self._pending_for(org)
            if kind in INCIDENT_KINDS:
                pending.incidents_changed = True
            if kind in MONITOR_MEMBERSHIP_KINDS:
                pending.monitors_changed = True
            if monitor_id is not None:
                if kind == "monitor.deleted":
                    pending.removed_ids.add(_as_uuid(monitor_id))
                    pending.monitor_ids.discard(_as_uuid(monitor_id))
                else:
                    pending.monitor_ids.add(_as_uuid(monitor_id))
            self._wake()

    def _pending_for(self, org_id: uuid.UUID) -> _Pending:
        return self._pending.setdefault(org_id, _Pending())

    def _wake(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="pulse-realtime", daemon=True)
            self._thread.start()
        self._cond.notify()

    # ------------------------------------------------------------------- flusher

    def _take_due(self) -> tuple[dict[uuid.UUID, _Pending], float | None]:
        """Pop the orgs whose slot has come; else say how long until the next one."""
        now = time.monotonic()
        due: dict[uuid.UUID, _Pending] = {}
        wait: float | None = None
        for org_id in list(self._pending):
            ready_at = self._last_sent.get(org_id, 0.0) + self.interval
            if ready_at <= now:
                due[org_id] = self._pending.pop(org_id)
                self._last_sent[org_id] = now
            else:
                wait = ready_at - now if wait is None else min(wait, ready_at - now)
        return due, wait

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            while True:
                with self._cond:
                    due, wait = self._take_due()
                    while not due:
                        idle = wait is None
                        woken = self._cond.wait(timeout=IDLE_CLOSE_AFTER if idle else wait)
                        if idle and not woken:
                            connections.close_all()  # quiet: give the connection back
                        due, wait = self._take_due()
                self._flush(loop, due)
        finally:  # only when the interpreter tears the daemon down
            loop.close()

    def _flush(self, loop: asyncio.AbstractEventLoop, due: dict[uuid.UUID, _Pending]) -> None:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None:
            return
        sends = []
        for org_id, pending in due.items():
            try:
                message = self.build_message(org_id, pending)
            except Exception:
                # A broken connection must not kill realtime for good: start afresh.
                log.exception("realtime.build_failed", org_id=str(org_id))
                connections.close_all()
                continue
            sends.append(layer.group_send(group_name(org_id), message))
        if not sends:
            return

        async def send_all() -> list[Any]:
            return await asyncio.gather(*sends, return_exceptions=True)

        for org_id, outcome in zip(due, loop.run_until_complete(send_all()), strict=False):
            if isinstance(outcome, BaseException):
                log.warning("realtime.send_failed", org_id=str(org_id), error=repr(outcome))
            else:
                self.sent += 1

    def build_message(self, org_id: uuid.UUID, pending: _Pending) -> dict[str, Any]:
        """Read what the pages show, as the org (RLS-bound alias, one transaction)."""
        from incidents.models import Incident
        from monitors.models import Monitor
        from monitors.selectors import status_counts

        monitors: list[dict[str, Any]] = []
        incidents_changed = pending.incidents_changed
        with tenancy.org_context(org_id), transaction.atomic(using=DEFAULT_DB_ALIAS):
            if pending.monitor_ids:
                rows = Monitor.objects.filter(id__in=pending.monitor_ids).values(
                    "id", "status", "last_latency_ms", "last_check_at", "last_outcome"
                )
                monitors = [monitor_payload(row) for row in rows]
            counts = status_counts()
            if not incidents_changed and pending.results_since is not None:
                incidents_changed = (
                    Incident.objects.filter(monitor_id__in=pending.monitor_ids)
                    .filter(
                        Q(opened_at__gte=pending.results_since)
                        | Q(resolved_at__gte=pending.results_since)
                    )
                    .exists()
                )
        self._seq += 1
        return {
            "type": MESSAGE_TYPE,
            "id": f"{self.source}:{self._seq}",
            "org": str(org_id),
            "monitors": monitors,
            "removed": sorted(str(m) for m in pending.removed_ids),
            "counts": counts,
            "incidents_changed": incidents_changed,
            "monitors_changed": pending.monitors_changed,
        }


def monitor_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    """What a page shows live for one monitor; msgpack-friendly (no datetimes)."""
    checked: datetime | None = row["last_check_at"]
    return {
        "id": str(row["id"]),
        "status": row["status"],
        "latency_ms": row["last_latency_ms"],
        "checked_at": checked.timestamp() if checked else None,
        "outcome": row["last_outcome"],
    }


publisher = Publisher()
events.on_after_commit(publisher.results_recorded)
# A forked child (Celery prefork) gets a copy of the buffer but not the flusher thread,
# and maybe a lock held mid-flush: start it afresh.
os.register_at_fork(after_in_child=publisher._reset)


def publish_org_event(org_id: uuid.UUID | str, kind: str, data: Mapping[str, Any]) -> None:
    """Tell the org's open pages that something changed. Call it after commit (see
    :func:`publish_on_commit`): the flusher reads the committed rows.

    kinds: ``monitor.created|updated|paused|resumed|deleted`` with ``{"monitor_id"}``;
    ``incident.opened|acknowledged|resolved|note|updated`` with ``{"incident_id"}``
    (and ``"monitor_id"`` when known).
    """
    publisher.event(org_id, kind, data)


def publish_on_commit(
    org_id: uuid.UUID | str,
    kind: str,
    data: Mapping[str, Any],
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> None:
    """:func:`publish_org_event` once the current transaction on ``using`` commits (at
    once outside a transaction); nothing is published if it rolls back."""
    if kind not in KINDS:
        raise ValueError(f"unknown realtime event kind {kind!r}")
    transaction.on_commit(partial(publish_org_event, org_id, kind, dict(data)), using=using)
