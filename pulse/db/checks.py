"""SQL for the check cycle (SPEC §5): claiming due monitors, re-handing lost leases,
and recording a batch of results. System code: the system alias spans orgs.

All of it is set-based: one statement claims a whole batch, one statement accepts a
batch of results, one COPY stores them, one upsert rolls them up.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from django.db import connections

from pulse.db import SYSTEM_DB


@dataclass(frozen=True)
class Claim:
    monitor_id: uuid.UUID
    org_id: uuid.UUID
    due_at: datetime


_CLAIM_SQL = """
WITH due AS (
    SELECT id FROM monitors
    WHERE NOT paused AND inflight_due_at IS NULL
      AND next_check_at <= now() + make_interval(secs => %(lookahead)s)
    ORDER BY next_check_at
    FOR UPDATE SKIP LOCKED
    LIMIT %(limit)s
)
UPDATE monitors m SET
    inflight_due_at = m.next_check_at,
    lease_expires_at = GREATEST(m.next_check_at, now())
        + make_interval(secs => m.timeout_seconds + %(grace)s),
    -- Next due = this due + interval; after an outage, skip to the first slot still
    -- ahead (same phase) instead of replaying every missed one.
    next_check_at = m.next_check_at + make_interval(secs => m.interval_seconds * GREATEST(1,
        CEIL(EXTRACT(EPOCH FROM (now() - m.next_check_at)) / m.interval_seconds)))
        -- A heartbeat deadline is interval + grace after the last look.
        + CASE WHEN m.type = 'push'
               THEN make_interval(secs => COALESCE((m.config->>'grace_seconds')::int, 0))
               ELSE interval '0' END
FROM due WHERE m.id = due.id
RETURNING m.id, m.org_id, m.inflight_due_at
"""

_SWEEP_SQL = """
WITH lost AS (
    SELECT id FROM monitors
    WHERE inflight_due_at IS NOT NULL AND lease_expires_at < now() AND NOT paused
    ORDER BY lease_expires_at
    FOR UPDATE SKIP LOCKED
    LIMIT %(limit)s
)
UPDATE monitors m SET
    lease_expires_at = now() + make_interval(secs => m.timeout_seconds + %(grace)s)
FROM lost WHERE m.id = lost.id
RETURNING m.id, m.org_id, m.inflight_due_at
"""


def claim_due(*, limit: int, lookahead: float, lease_grace: float) -> list[Claim]:
    """Claim up to ``limit`` monitors due within ``lookahead`` seconds, in one
    statement. SKIP LOCKED: two tickers never claim the same monitor, and a claimed
    due time is not due again until its result is recorded."""
    with connections[SYSTEM_DB].cursor() as cursor:
        cursor.execute(_CLAIM_SQL, {"limit": limit, "lookahead": lookahead, "grace": lease_grace})
        return [Claim(*row) for row in cursor.fetchall()]


def sweep_lost(*, limit: int, lease_grace: float) -> list[Claim]:
    """Due times whose batch never reported back (worker killed, message lost):
    hand them out again with a fresh lease."""
    with connections[SYSTEM_DB].cursor() as cursor:
        cursor.execute(_SWEEP_SQL, {"limit": limit, "grace": lease_grace})
        return [Claim(*row) for row in cursor.fetchall()]


@dataclass(frozen=True)
class ResultRow:
    monitor_id: uuid.UUID
    org_id: uuid.UUID
    due_at: datetime
    ts: datetime
    outcome: str
    latency_ms: float | None
    status_code: int | None
    error: str
    details: dict[str, object]
    region: str = "default"


@dataclass(frozen=True)
class MonitorUpdate:
    """What recording one result changes on its monitor row."""

    status: str
    machine_state: dict[str, object]
    flapping: bool


_STORE_SQL = """
UPDATE monitors m SET
    inflight_due_at = NULL,
    lease_expires_at = NULL,
    last_check_at = v.ts,
    last_outcome = v.outcome,
    last_latency_ms = v.latency,
    last_status_code = v.code,
    last_error = v.error,
    status = v.status,
    machine_state = v.state,
    flapping = v.flapping
FROM unnest(%s::uuid[], %s::timestamptz[], %s::timestamptz[], %s::text[], %s::float8[],
            %s::int[], %s::text[], %s::text[], %s::jsonb[], %s::bool[])
     AS v(id, due, ts, outcome, latency, code, error, status, state, flapping)
WHERE m.id = v.id AND m.inflight_due_at = v.due
"""

_ROLLUP_SQL = """
INSERT INTO uptime_rollups (id, org_id, monitor_id, grain, bucket, checks, failures, slow,
                            latency_sum, latency_count, latency_min, latency_max)
SELECT gen_random_uuid(), v.org, v.id, g.grain, date_trunc(g.unit, v.ts), count(*),
       count(*) FILTER (WHERE v.outcome = 'fail'), count(*) FILTER (WHERE v.outcome = 'slow'),
       coalesce(sum(v.latency), 0), count(v.latency), min(v.latency), max(v.latency)
FROM unnest(%s::uuid[], %s::uuid[], %s::timestamptz[], %s::text[], %s::float8[])
     AS v(id, org, ts, outcome, latency)
CROSS JOIN (VALUES ('m', 'minute'), ('h', 'hour')) AS g(grain, unit)
GROUP BY v.org, v.id, g.grain, date_trunc(g.unit, v.ts)
ON CONFLICT (monitor_id, bucket, grain) DO UPDATE SET
    checks = uptime_rollups.checks + EXCLUDED.checks,
    failures = uptime_rollups.failures + EXCLUDED.failures,
    slow = uptime_rollups.slow + EXCLUDED.slow,
    latency_sum = uptime_rollups.latency_sum + EXCLUDED.latency_sum,
    latency_count = uptime_rollups.latency_count + EXCLUDED.latency_count,
    latency_min = LEAST(uptime_rollups.latency_min, EXCLUDED.latency_min),
    latency_max = GREATEST(uptime_rollups.latency_max, EXCLUDED.latency_max)
"""

_COPY_SQL = (
    "COPY check_results (ts, org_id, monitor_id, region, due_at, outcome, latency_ms, "
    "status_code, error, details) FROM STDIN"
)


def store_results(rows: Sequence[ResultRow], updates: dict[uuid.UUID, MonitorUpdate]) -> None:
    """Store accepted results; inside a transaction on the system alias that holds the
    monitors' row locks (the caller filtered ``rows`` to due times still in flight).

    One UPDATE sets each monitor's last result and new machine state, one COPY stores
    the results, one upsert rolls them up per minute and hour.
    """
    if not rows:
        return
    with connections[SYSTEM_DB].cursor() as cursor:
        cursor.execute(
            _STORE_SQL,
            [
                [r.monitor_id for r in rows],
                [r.due_at for r in rows],
                [r.ts for r in rows],
                [r.outcome for r in rows],
                [r.latency_ms for r in rows],
                [r.status_code for r in rows],
                [r.error[:2000] for r in rows],
                [updates[r.monitor_id].status for r in rows],
                [json.dumps(updates[r.monitor_id].machine_state) for r in rows],
                [updates[r.monitor_id].flapping for r in rows],
            ],
        )
        with cursor.cursor.copy(_COPY_SQL) as copy:
            for r in rows:
                copy.write_row(
                    (
                        r.ts,
                        r.org_id,
                        r.monitor_id,
                        r.region,
                        r.due_at,
                        r.outcome,
                        r.latency_ms,
                        r.status_code,
                        r.error[:2000],
                        json.dumps(r.details, default=str),
                    )
                )
        cursor.execute(
            _ROLLUP_SQL,
            [
                [r.monitor_id for r in rows],
                [r.org_id for r in rows],
                [r.ts for r in rows],
                [r.outcome for r in rows],
                [r.latency_ms for r in rows],
            ],
        )


_PING_SQL = """
UPDATE monitors SET
    {column} = now(),
    -- Look at it now (once per look: a ping storm cannot queue more).
    next_check_at = LEAST(next_check_at, now())
WHERE heartbeat_token = %s AND type = 'push'
RETURNING id, org_id, paused
"""


PING_COLUMNS = {"ok": "last_ping_at", "start": "last_start_at", "fail": "last_fail_at"}
PING_SQL = {kind: _PING_SQL.format(column=column) for kind, column in PING_COLUMNS.items()}


def heartbeat_ping(*, token: str, kind: str) -> tuple[uuid.UUID, uuid.UUID, bool] | None:
    """Record a heartbeat ping (``ok``, ``start`` or ``fail``) by its secret token. The
    token is the credential and crosses orgs, hence the system alias. (Under ASGI the
    same statement runs from ``ingest.fastping``, without Django in the way.)"""
    with connections[SYSTEM_DB].cursor() as cursor:
        cursor.execute(PING_SQL[kind], [token])
        row = cursor.fetchone()
    return (row[0], row[1], row[2]) if row else None


class AsyncPinger:
    """The heartbeat statement on an async connection pool of the system role, for the
    ASGI fast path (one pool per process, opened on first use)."""

    def __init__(self) -> None:
        self._pool: Any = None

    async def ping(self, *, token: str, kind: str) -> tuple[uuid.UUID, uuid.UUID, bool] | None:
        if self._pool is None:
            from django.conf import settings
            from psycopg_pool import AsyncConnectionPool

            db = settings.DATABASES[SYSTEM_DB]
            conninfo = (
                f"host={db['HOST']} port={db['PORT']} dbname={db['NAME']} user={db['USER']} "
                f"password={db['PASSWORD']}"
            )
            pool = AsyncConnectionPool(
                conninfo, min_size=1, max_size=8, open=False, kwargs={"autocommit": True}
            )
            await pool.open()
            self._pool = pool
        try:
            row = await self._execute(token, kind)
        except psycopg.OperationalError:
            # The pool's connections died with the server (a PostgreSQL restart): drop
            # every broken idle one and try once more, rather than answer 500 once per
            # pooled connection after the server is back (measured by make faults). The
            # statement is idempotent. Checking on failure only keeps the hot path at one
            # round trip.
            await self._pool.check()
            row = await self._execute(token, kind)
        return (row[0], row[1], row[2]) if row else None

    async def _execute(self, token: str, kind: str) -> Any:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(PING_SQL[kind], [token])
            return await cursor.fetchone()


def set_next_check(pairs: Sequence[tuple[uuid.UUID, datetime]]) -> None:
    """Explicit next due times (cron heartbeats, whose schedule SQL cannot compute)."""
    if not pairs:
        return
    with connections[SYSTEM_DB].cursor() as cursor:
        cursor.execute(
            "UPDATE monitors m SET next_check_at = v.next FROM unnest(%s::uuid[], "
            "%s::timestamptz[]) AS v(id, next) WHERE m.id = v.id",
            [[p[0] for p in pairs], [p[1] for p in pairs]],
        )
