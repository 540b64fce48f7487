"""SQL for pushed host metrics (SPEC §9 ``/v1/ingest/metrics``, §5 metric monitors).

Writes run on the RLS-bound ``default`` alias inside the pushing key's org (the
caller sets the tenant context), so a key can only ever write its own org's rows.
The metric-monitor read spans orgs (a check batch holds many) and uses the system
alias. Everything is set-based: one upsert for the hosts, one INSERT for the samples,
one upsert for the per-metric summary, whatever the batch size.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import psycopg
from django.db import connection, connections, transaction
from django.db.backends.utils import CursorWrapper

from pulse.db import SYSTEM_DB
from pulse.lib.ids import uuid7


class SampleLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def ts(self) -> float: ...  # unix seconds
    @property
    def labels(self) -> dict[str, str]: ...


_HOSTS_SQL = """
WITH input AS (
    SELECT * FROM unnest(%(ids)s::uuid[], %(names)s::text[], %(labels)s::jsonb[])
        AS v(id, name, labels)
), ins AS (
    INSERT INTO hosts (id, org_id, name, labels, first_seen_at, last_seen_at)
    SELECT v.id, %(org)s, v.name, COALESCE(v.labels, '{}'::jsonb), %(now)s, %(now)s
    FROM input v ORDER BY v.name
    ON CONFLICT (org_id, name) DO NOTHING
    RETURNING id, name
)
SELECT id, name FROM ins
UNION ALL
SELECT h.id, h.name FROM hosts h JOIN input v ON v.name = h.name WHERE h.org_id = %(org)s
"""

# PostgreSQL refuses COPY FROM into a table with row-level security for a role that
# is subject to it, and ingest must stay on the RLS-bound role (SPEC §4): one INSERT
# from parallel arrays instead, bound server-side so the arrays travel as parameters
# rather than as a megabyte of SQL text, in binary (%b: no per-element quoting).
_INSERT_SQL = """
INSERT INTO metric_samples (ts, org_id, host_id, name, labels, value)
SELECT v.ts, %b, v.host, v.name, v.labels, v.value
FROM unnest(%b::timestamptz[], %b::uuid[], %b::text[], %b::text[]::jsonb[], %b::float8[])
     AS v(ts, host, name, labels, value)
"""

# Rows are sorted (host, name) so that concurrent pushes lock them in one order and
# cannot deadlock; SET expressions read the old row.
_SUMMARY_SQL = """
INSERT INTO host_metrics (id, org_id, host_id, name, first_seen_at, last_seen_at,
                          last_value, samples)
SELECT v.id, %s, v.host, v.name, v.first, v.last, v.value, v.n
FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::timestamptz[], %s::timestamptz[],
            %s::float8[], %s::bigint[]) AS v(id, host, name, first, last, value, n)
ORDER BY v.host, v.name
ON CONFLICT (host_id, name) DO UPDATE SET
    samples = host_metrics.samples + EXCLUDED.samples,
    first_seen_at = LEAST(host_metrics.first_seen_at, EXCLUDED.first_seen_at),
    last_value = CASE WHEN EXCLUDED.last_seen_at >= host_metrics.last_seen_at
                      THEN EXCLUDED.last_value ELSE host_metrics.last_value END,
    last_seen_at = GREATEST(host_metrics.last_seen_at, EXCLUDED.last_seen_at)
"""

_SEEN_SQL = """
UPDATE hosts h SET
    last_seen_at = GREATEST(h.last_seen_at, %s),
    labels = COALESCE(v.labels, h.labels)
FROM (SELECT * FROM unnest(%s::uuid[], %s::jsonb[]) AS u(id, labels) ORDER BY u.id) v
WHERE h.id = v.id
"""


def _resolve_hosts(
    cursor: CursorWrapper,
    org_id: uuid.UUID,
    names: list[str],
    labels: list[str | None],
    now: datetime,
) -> dict[str, uuid.UUID]:
    params: dict[str, Any] = {
        "ids": [uuid7() for _ in names],
        "names": names,
        "labels": labels,
        "org": org_id,
        "now": now,
    }
    found: dict[str, uuid.UUID] = {}
    # A host inserted by a concurrent push after this statement's snapshot is skipped by
    # ON CONFLICT yet invisible to the SELECT: ask again, it is committed by then.
    for _ in range(3):
        cursor.execute(_HOSTS_SQL, params)
        found.update({name: host_id for host_id, name in cursor.fetchall()})
        if len(found) == len(names):
            return found
    raise RuntimeError(f"could not resolve hosts {sorted(set(names) - set(found))}")


def store_samples(
    *,
    org_id: uuid.UUID,
    samples: Mapping[str, Sequence[SampleLike]],
    host_labels: Mapping[str, Mapping[str, str]] | None = None,
    now: datetime,
) -> int:
    """Store samples by host name for one org, in one transaction on the RLS-bound
    alias (the caller runs inside ``tenancy.org_context(org_id)``). Returns how many
    were stored."""
    host_labels = host_labels or {}
    names = sorted(samples)
    if not names:
        return 0
    labels_json = [json.dumps(host_labels[n]) if n in host_labels else None for n in names]
    summary: dict[tuple[uuid.UUID, str], list[float]] = {}  # first, last ts, last value, n
    with transaction.atomic(), connection.cursor() as cursor:
        # The first statement of the transaction also sets app.current_org (RLS) for
        # the COPY below, which the backend's execute wrapper does not see.
        hosts = _resolve_hosts(cursor, org_id, names, labels_json, now)
        times: dict[float, datetime] = {}
        cols: tuple[list[datetime], list[uuid.UUID], list[str], list[str], list[float]] = (
            [],
            [],
            [],
            [],
            [],
        )
        for host in names:
            host_id = hosts[host]
            for s in samples[host]:
                ts = times.get(s.ts)
                if ts is None:
                    ts = times[s.ts] = datetime.fromtimestamp(s.ts, UTC)
                cols[0].append(ts)
                cols[1].append(host_id)
                cols[2].append(s.name)
                cols[3].append(json.dumps(s.labels) if s.labels else "{}")
                cols[4].append(float(s.value))
                key = (host_id, s.name)
                row = summary.get(key)
                if row is None:
                    summary[key] = [s.ts, s.ts, s.value, 1]
                else:
                    if s.ts < row[0]:
                        row[0] = s.ts
                    if s.ts >= row[1]:
                        row[1], row[2] = s.ts, s.value
                    row[3] += 1
        stored = len(cols[0])
        if stored:
            # Same connection and transaction (app.current_org is set), server binding.
            with psycopg.Cursor(cursor.cursor.connection) as raw:
                raw.execute(_INSERT_SQL, [org_id, *cols])
        if summary:
            keys = sorted(summary, key=lambda k: (str(k[0]), k[1]))
            cursor.execute(
                _SUMMARY_SQL,
                [
                    org_id,
                    [uuid7() for _ in keys],
                    [k[0] for k in keys],
                    [k[1] for k in keys],
                    [times[summary[k][0]] for k in keys],
                    [times[summary[k][1]] for k in keys],
                    [summary[k][2] for k in keys],
                    [int(summary[k][3]) for k in keys],
                ],
            )
        ordered = sorted(names, key=lambda n: str(hosts[n]))
        cursor.execute(
            _SEEN_SQL,
            [
                now,
                [hosts[n] for n in ordered],
                [json.dumps(host_labels[n]) if n in host_labels else None for n in ordered],
            ],
        )
    return stored


# ------------------------------------------------------------------ metric monitors


@dataclass(frozen=True)
class Condition:
    """A metric monitor's question at reference time ``ref``."""

    org_id: uuid.UUID
    host: str
    metric: str
    op: str  # gt, ge, lt, le
    threshold: float
    window: timedelta  # for_seconds
    grace: timedelta  # how far before the window an anchoring sample may lie
    ref: datetime
    skew: timedelta = timedelta(seconds=60)  # samples dated a little ahead still count


@dataclass(frozen=True)
class ConditionState:
    host_known: bool
    latest_ts: datetime | None
    latest_value: float | None
    anchor: datetime | None  # newest sample at or before ref - window
    in_window: int  # samples from the anchor to ref
    violations: int  # of those, how many do not satisfy the condition


_OPS = ("gt", "ge", "lt", "le")

# Scalar subqueries per input row: each is an index scan on (org_id, host_id, name, ts).
_CONDITION_SQL = """
WITH v AS (
    SELECT v.*, h.id AS host_id
    FROM unnest(%s::int[], %s::uuid[], %s::text[], %s::text[], %s::text[], %s::float8[],
                %s::timestamptz[], %s::timestamptz[], %s::timestamptz[])
         AS v(idx, org, host, name, op, threshold, since, start, until)
    LEFT JOIN hosts h ON h.org_id = v.org AND h.name = v.host
), a AS (
    SELECT v.*,
        (SELECT max(s.ts) FROM metric_samples s
          WHERE s.org_id = v.org AND s.host_id = v.host_id AND s.name = v.name
            AND s.ts > v.since AND s.ts <= v.start) AS anchor,
        l.ts AS latest_ts, l.value AS latest_value
    FROM v
    LEFT JOIN LATERAL (
        SELECT s.ts, s.value FROM metric_samples s
        WHERE s.org_id = v.org AND s.host_id = v.host_id AND s.name = v.name
          AND s.ts <= v.until
        ORDER BY s.ts DESC LIMIT 1
    ) l ON true
)
SELECT a.idx, a.host_id IS NOT NULL, a.latest_ts, a.latest_value, a.anchor,
    (SELECT count(*) FROM metric_samples s
      WHERE s.org_id = a.org AND s.host_id = a.host_id AND s.name = a.name
        AND s.ts >= a.anchor AND s.ts <= a.until),
    (SELECT count(*) FROM metric_samples s
      WHERE s.org_id = a.org AND s.host_id = a.host_id AND s.name = a.name
        AND s.ts >= a.anchor AND s.ts <= a.until
        AND NOT (CASE a.op WHEN 'gt' THEN s.value > a.threshold
                           WHEN 'ge' THEN s.value >= a.threshold
                           WHEN 'lt' THEN s.value < a.threshold
                           ELSE s.value <= a.threshold END))
FROM a
"""


def condition_states(conditions: Sequence[Condition]) -> list[ConditionState]:
    """Evaluate many metric conditions (any orgs) in one statement on the system alias."""
    if not conditions:
        return []
    for c in conditions:
        if c.op not in _OPS:
            raise ValueError(f"unknown comparison {c.op!r}")
    with connections[SYSTEM_DB].cursor() as cursor:
        cursor.execute(
            _CONDITION_SQL,
            [
                list(range(len(conditions))),
                [c.org_id for c in conditions],
                [c.host for c in conditions],
                [c.metric for c in conditions],
                [c.op for c in conditions],
                [float(c.threshold) for c in conditions],
                [c.ref - c.window - c.grace for c in conditions],
                [c.ref - c.window for c in conditions],
                [c.ref + c.skew for c in conditions],
            ],
        )
        rows = {row[0]: row[1:] for row in cursor.fetchall()}
    return [ConditionState(*rows[i]) for i in range(len(conditions))]


# ----------------------------------------------------------------------- charts (UI)


@dataclass(frozen=True)
class Bucket:
    start: datetime
    avg: float
    low: float
    high: float
    count: int


_SERIES_SQL = """
SELECT name, date_bin(%s::interval, ts, %s::timestamptz) AS bucket,
       avg(value), min(value), max(value), count(*), count(DISTINCT labels)
FROM metric_samples
WHERE org_id = %s AND host_id = %s AND name = ANY(%s) AND ts > %s AND ts <= %s
GROUP BY name, bucket
ORDER BY name, bucket
"""


def series(
    *,
    org_id: uuid.UUID,
    host_id: uuid.UUID,
    names: Sequence[str],
    since: datetime,
    until: datetime,
    bucket: timedelta,
) -> tuple[dict[str, list[Bucket]], dict[str, int]]:
    """Per metric, samples averaged per ``bucket`` (and the most label sets seen in one
    bucket: several series of one name are averaged together). Tenant read on the
    RLS-bound alias."""
    out: dict[str, list[Bucket]] = {name: [] for name in names}
    label_sets: dict[str, int] = {name: 0 for name in names}
    if not names:
        return out, label_sets
    with connection.cursor() as cursor:
        cursor.execute(
            _SERIES_SQL,
            [
                f"{bucket.total_seconds()} seconds",
                since,
                org_id,
                host_id,
                list(names),
                since,
                until,
            ],
        )
        for name, start, avg, low, high, count, labels in cursor.fetchall():
            out[name].append(Bucket(start, float(avg), float(low), float(high), int(count)))
            label_sets[name] = max(label_sets[name], int(labels))
    return out, label_sets
