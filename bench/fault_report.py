"""Figures of a fault run: due slots kept or missed, duplicates, deliveries and their
effects at the receiver, request outcomes, and the recovery time of each fault."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.analyze import _us, expected_slots, percentiles

if TYPE_CHECKING:
    from bench.fault_traffic import Request
    from bench.seed import Fleet

OUTAGE_MARGIN_S = 2.0  # a fault's window: from this long before it to this long after repair
LATE_S = 5.0  # a result this late after its due time counts as late


@dataclass
class Fault:
    kind: str  # kill-checks, kill-worker, kill-beat, kill-daphne, restart-redis, restart-postgres
    at: float  # Unix time of the fault
    restored_at: float  # the process / server back (ready, where that can be asked)
    note: str = ""

    @property
    def window(self) -> tuple[float, float]:
        return self.at - OUTAGE_MARGIN_S, self.restored_at + OUTAGE_MARGIN_S


def _ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


# ----------------------------------------------------------------------------- checks
def check_figures(
    fleet: Fleet,
    rows: Sequence[tuple[uuid.UUID, datetime, datetime]],
    faults: Sequence[Fault],
    *,
    start: float,
    end: float,
    interval: int,
) -> dict[str, Any]:
    """``rows``: (monitor, due_at, ts) of the fleet. Slots due in [start, end)."""
    expected = expected_slots(fleet, _ts(start), _ts(end))
    seen: Counter[tuple[uuid.UUID, int]] = Counter()
    lags: list[float] = []
    for monitor_id, due_at, ts in rows:
        key = (monitor_id, _us(due_at))
        seen[key] += 1
        if key in expected and seen[key] == 1:
            lags.append((ts - due_at).total_seconds())
    windows = [tuple(int(v * 1_000_000) for v in f.window) for f in faults]
    missed_in, missed_out = 0, 0
    missed_examples: list[str] = []
    for key in expected - set(seen):
        if any(lo <= key[1] <= hi for lo, hi in windows):
            missed_in += 1
        else:
            missed_out += 1
            if len(missed_examples) < 10:
                missed_examples.append(f"{key[0]} due {_ts(key[1] / 1e6).isoformat()}")
    duplicates = sum(n - 1 for n in seen.values() if n > 1)
    unexpected = sum(1 for key in seen if start * 1e6 <= key[1] < end * 1e6 and key not in expected)

    # Every monitor probed again within one interval after the last repair.
    last = max((f.restored_at for f in faults), default=start)
    first_after: dict[uuid.UUID, float] = {}
    for monitor_id, _due, ts in rows:
        t = ts.timestamp()
        if t >= last and t < first_after.get(monitor_id, float("inf")):
            first_after[monitor_id] = t
    gaps = [first_after.get(m, float("inf")) - last for m in fleet.phase_ms]
    not_reprobed = sum(1 for g in gaps if g > interval)
    return {
        "window": {"start": _ts(start).isoformat(), "end": _ts(end).isoformat()},
        "due_slots": len(expected),
        "results": len(rows),
        "missed_outside_outages": missed_out,
        "missed_inside_outages": missed_in,
        "missed_examples": missed_examples,
        "duplicates": duplicates,
        "unexpected_due_times": unexpected,
        "lag_s": percentiles(lags),
        "late_over_5s": sum(1 for lag in lags if lag > LATE_S),
        "last_repair": _ts(last).isoformat(),
        "monitors_not_reprobed_within_interval": not_reprobed,
        "reprobe_after_last_repair_s": {
            "max": _r(max(gaps)) if gaps else None,
            "p50": percentiles([g for g in gaps if g != float("inf")])["p50"],
        },
    }


# ---------------------------------------------------------------------- notifications
def read_receiver_log(path: Path) -> list[dict[str, Any]]:
    out = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line cut by the kill of the receiver (it is never killed)
    return out


def notification_figures(
    created: dict[str, str], log: Sequence[dict[str, Any]], statuses: dict[str, int]
) -> dict[str, Any]:
    """``created``: idempotency key -> event id of every outbox row the run wrote (read
    back from the database); ``log``: the receiver's lines; ``statuses``: outbox rows by
    status at the end."""
    accepted = [e for e in log if e.get("status") == 204]
    effects = Counter(e["id"] for e in accepted if e.get("effect"))
    unique = set(effects)
    by_event: dict[str, set[str]] = {}
    for e in accepted:
        by_event.setdefault(str(e.get("event_id")), set()).add(e["id"])
    return {
        "written": len(created),
        "requests": len(log),
        "deferred_429": sum(1 for e in log if e.get("status") == 429),
        "bad_signatures": sum(1 for e in log if not e.get("sig")),
        "deliveries_raw": len(accepted),
        "effects_unique": len(unique),
        "repeat_deliveries_deduplicated": len(accepted) - len(unique),
        "lost": len(set(created) - unique),
        # An effect applied twice: the receiver's dedup failed, or one event reached it
        # under two webhook-ids (the outbox wrote it twice).
        "duplicate_effects": sum(n - 1 for n in effects.values())
        + sum(len(ids) - 1 for ids in by_event.values() if len(ids) > 1),
        "unknown_ids": len(unique - set(created)),
        "outbox_status_at_end": statuses,
    }


# ----------------------------------------------------------------------------- recovery
def _first(times: Iterable[float], after: float) -> float | None:
    later = [t for t in times if t > after]
    return min(later) - after if later else None


def recovery(
    faults: Sequence[Fault],
    check_rows: Sequence[tuple[uuid.UUID, datetime, datetime]],
    log: Sequence[dict[str, Any]],
    requests: Sequence[Request],
    *,
    claim_ahead: float,
) -> list[dict[str, Any]]:
    """Per fault, seconds from the fault to the first success after it: a check of a
    slot claimed after the fault (due at least ``claim_ahead`` later: the look-ahead plus
    one tick), a delivery accepted by the receiver, a request answered 2xx (sent after
    the fault). Plus the slots due around it that were late and the requests that
    failed before it was over."""
    out = []
    bounds = [f.at for f in faults[1:]] + [float("inf")]
    for fault, until in zip(faults, bounds, strict=True):
        claimed_after = fault.at + claim_ahead
        check_times = [t.timestamp() for _m, d, t in check_rows if d.timestamp() >= claimed_after]
        delivery_times = [float(e["t"]) for e in log if e.get("status") == 204]
        around = [
            (ts - due).total_seconds()
            for _m, due, ts in check_rows
            if fault.at - OUTAGE_MARGIN_S <= due.timestamp() < until
        ]
        failed = [r for r in requests if fault.at <= r.sent < until and not 200 <= r.status < 300]
        out.append(
            {
                **asdict(fault),
                "restored_s": _r(fault.restored_at - fault.at),
                "recovery_s": {
                    "check_recorded": _r(_first(check_times, fault.at)),
                    "delivery_made": _r(_first(delivery_times, fault.at)),
                    "request_served": _r(
                        _first([r.done for r in requests if r.status // 100 == 2], fault.at)
                    ),
                    "ping_served": _r(
                        _first(
                            [r.done for r in requests if r.kind == "ping" and r.status // 100 == 2],
                            fault.at,
                        )
                    ),
                },
                "slots_due_until_next_fault": len(around),
                "late_over_5s": sum(1 for lag in around if lag > LATE_S),
                "max_lag_s": _r(max(around)) if around else None,
                "requests_failed": dict(Counter(f"{r.kind}:{r.status}" for r in failed)),
                # Failures of requests sent once the process/server was back: the app's own.
                "requests_failed_after_restore": sum(
                    1 for r in failed if r.sent > fault.restored_at
                ),
            }
        )
    return out


def request_figures(requests: Sequence[Request]) -> dict[str, Any]:
    return {
        kind: {
            "sent": sum(1 for r in requests if r.kind == kind),
            "by_status": dict(
                sorted(Counter(str(r.status) for r in requests if r.kind == kind).items())
            ),
            "latency_ms": percentiles(
                [(r.done - r.sent) * 1000 for r in requests if r.kind == kind and r.status]
            ),
        }
        for kind in ("ping", "health")
    }


# ----------------------------------------------------------------------------- summary
def goals(report: dict[str, Any]) -> dict[str, bool]:
    checks, notes = report["checks"], report["notifications"]
    return {
        "lost==0": notes["lost"] == 0,
        "duplicate_effects==0": notes["duplicate_effects"] == 0,
        "bad_signatures==0": notes["bad_signatures"] == 0,
        "dead==0": notes["outbox_status_at_end"].get("dead", 0) == 0,
        "missed_outside_outages==0": checks["missed_outside_outages"] == 0,
        "duplicate_results==0": checks["duplicates"] == 0,
        "all_reprobed_within_interval": checks["monitors_not_reprobed_within_interval"] == 0,
        "unexpected_exits==0": not report["unexpected_exits"],
        "every_fault_recovered": all(
            f["recovery_s"]["check_recorded"] is not None
            and f["recovery_s"]["request_served"] is not None
            for f in report["faults"]
        ),
    }


def summary(report: dict[str, Any]) -> str:
    c, n, cfg = report["checks"], report["notifications"], report["config"]
    lines = [
        f"faults: {cfg['monitors']} HTTP monitors at {cfg['interval_s']} s, "
        f"{cfg['notifications_in_flight']} notifications kept in flight, "
        f"{len(report['faults'])} faults in {report['wall_s']} s",
        f"checks: {c['due_slots']} due slots; missed outside outages "
        f"{c['missed_outside_outages']}, inside {c['missed_inside_outages']}; duplicates "
        f"{c['duplicates']}; late >5 s {c['late_over_5s']}; lag s p50 {c['lag_s']['p50']} "
        f"p99 {c['lag_s']['p99']} max {c['lag_s']['max']}",
        f"  after the last repair: {c['monitors_not_reprobed_within_interval']} monitors not "
        f"probed within one interval (slowest {c['reprobe_after_last_repair_s']['max']} s)",
        f"notifications: {n['written']} written; deliveries {n['deliveries_raw']} raw, "
        f"{n['effects_unique']} unique effects ({n['repeat_deliveries_deduplicated']} repeats "
        f"deduplicated); lost {n['lost']}; duplicate effects {n['duplicate_effects']}; bad "
        f"signatures {n['bad_signatures']}; 429-deferred {n['deferred_429']}; outbox at end "
        f"{n['outbox_status_at_end']}",
        f"requests: {report['requests']['ping']['by_status']} pings, "
        f"{report['requests']['health']['by_status']} health",
        "recovery, s from the fault (restored = process/server back; then the first "
        "check recorded / delivery made / request served):",
    ]
    for f in report["faults"]:
        r = f["recovery_s"]
        lines.append(
            f"  {f['kind']:<17} in flight {f.get('notifications_in_flight', '-'):>5}  "
            f"restored {f['restored_s']:>6}  check {r['check_recorded']}  delivery "
            f"{r['delivery_made']}  request {r['request_served']}  (late slots "
            f"{f['late_over_5s']}, max lag {f['max_lag_s']} s, failed requests "
            f"{sum(f['requests_failed'].values())}, after restore "
            f"{f['requests_failed_after_restore']})"
        )
    for exit_ in report["unexpected_exits"]:
        lines.append(f"  unexpected exit: {exit_['kind']} ({exit_['returncode']}), {exit_['log']}")
    lines.append(f"goals: {report['goals']}")
    return "\n".join(lines)
