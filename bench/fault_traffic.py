"""Load the fault suite keeps on while it breaks things (threads of the driver):

- :class:`Pinger`: heartbeat pings (the ASGI fast path) and ``/api/health`` (through
  Django: database and Redis) to daphne, so killing daphne, Redis or PostgreSQL has a
  visible cost; every request's outcome is recorded.
- :class:`Producer`: writes notifications into the outbox as the app's alert engine
  does (a transaction, then ``deliver`` enqueued after commit; a lost enqueue is left to
  the outbox sweeper) at the rate that keeps ``in_flight`` of them undelivered: each
  is released by the receiver ``hold`` seconds after it was written.
"""

from __future__ import annotations

import hashlib
import http.client
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Any


@dataclass(frozen=True)
class Request:
    sent: float  # Unix time
    done: float
    kind: str  # "ping" | "health"
    status: int  # HTTP status, or 0 when no answer (refused, reset, timeout)


class Pinger(threading.Thread):
    def __init__(self, port: int, ping_paths: list[str], rate: float) -> None:
        super().__init__(name="faults-pinger", daemon=True)
        self.port = port
        self.ping_paths = ping_paths
        self.period = 1.0 / rate
        self.requests: list[Request] = []
        self._halt = threading.Event()
        self._conn: http.client.HTTPConnection | None = None

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)

    def last_ok_after(self, moment: float, kind: str | None = None) -> float | None:
        for req in reversed(self.requests):
            if req.sent <= moment:
                return None
            if 200 <= req.status < 300 and (kind is None or req.kind == kind):
                return req.done
        return None

    def _get(self, path: str) -> int:
        if self._conn is None:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            self._conn.request("GET", path)
            response = self._conn.getresponse()
            response.read()
            if response.getheader("connection", "").lower() == "close":
                self._close()
            return int(response.status)
        except (OSError, http.client.HTTPException):
            self._close()
            return 0

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def run(self) -> None:
        i = 0
        next_at = time.monotonic()
        last_health = 0.0
        while not self._halt.is_set():
            now = time.monotonic()
            if now < next_at:
                self._halt.wait(next_at - now)
                continue
            next_at += self.period
            if now - next_at > 5:  # fell far behind (a long timeout): don't burst
                next_at = now + self.period
            if now - last_health >= 1.0:
                last_health = now
                kind, path = "health", "/api/health"
            else:
                kind, path = "ping", self.ping_paths[i % len(self.ping_paths)]
                i += 1
            sent = time.time()
            status = self._get(path)
            self.requests.append(Request(sent, time.time(), kind, status))
        self._close()


def bench_key(event_id: uuid.UUID, channel_id: uuid.UUID) -> str:
    """The outbox's idempotency key for a bench event (the engine hashes event, rule and
    channel the same way; these rows have no rule)."""
    return hashlib.sha256(f"{event_id}:bench:{channel_id}".encode()).hexdigest()


@dataclass(eq=False)  # threads must stay hashable
class Producer(threading.Thread):
    org_id: uuid.UUID
    channel_id: uuid.UUID
    in_flight: int
    hold: float  # seconds from writing a row until the receiver accepts it
    until: float = 0.0  # Unix time to stop writing (set before start, may be moved)
    written: int = 0
    enqueue_failed: int = 0  # committed, but `deliver` could not be sent (broker down)
    write_failed: int = 0  # transactions that failed (database down); retried later
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(name="faults-producer", daemon=True)
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=30)

    def run(self) -> None:
        from django.db import connections

        rate = self.in_flight / self.hold
        began = time.time()
        try:
            while not self._halt.is_set() and time.time() < self.until:
                due = int((time.time() - began) * rate) + 1 - self.written
                if due > 0:
                    self._write(due)
                self._halt.wait(0.5)
        finally:
            connections.close_all()

    def _write(self, count: int) -> None:
        from django.db import connections, transaction
        from django.utils import timezone

        from notifications.models import Notification
        from notifications.tasks import deliver
        from pulse.db import SYSTEM_DB

        now = time.time()
        rows = []
        for seq in range(self.written, self.written + count):
            event_id = uuid.uuid4()
            rows.append(
                Notification(
                    org_id=self.org_id,
                    idempotency_key=bench_key(event_id, self.channel_id),
                    channel_id=self.channel_id,
                    event_id=event_id,
                    event="bench",
                    payload={
                        "type": "bench.fault",
                        "event_id": str(event_id),
                        "occurred_at": timezone.now().isoformat(),
                        "bench": {"seq": seq, "release_at": round(now + self.hold, 3)},
                    },
                )
            )
        try:
            with transaction.atomic(using=SYSTEM_DB):
                Notification.all_orgs.bulk_create(rows)
                ids = [str(r.id) for r in rows]
                transaction.on_commit(
                    partial(self._enqueue, deliver, ids), using=SYSTEM_DB, robust=False
                )
        except Exception as exc:
            self.write_failed += 1
            self._note(exc)
            connections[SYSTEM_DB].close()
            return
        self.written += count

    def _enqueue(self, deliver: Any, ids: list[str]) -> None:
        try:
            deliver.delay(ids=ids)
        except Exception as exc:  # the sweeper finds committed rows whose enqueue was lost
            self.enqueue_failed += 1
            self._note(exc)

    def _note(self, exc: BaseException) -> None:
        if len(self.errors) < 20:
            self.errors.append(f"{time.time():.3f} {type(exc).__name__}: {exc}"[:300])
