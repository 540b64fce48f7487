"""Deterministic seeding of bench orgs and HTTP monitors.

Monitor ids are built so that the app's own phase function
(``monitors.services.jitter_seconds``) spreads the monitors exactly evenly over the
interval: id = random high bits (seeded) * interval_ms + i * interval_ms // N. Monitors
are inserted paused at a fixed reference time plus their phase, then :func:`activate`
unpauses them and shifts every due time by one offset in a single UPDATE, so the first
due times are "now + lead + phase" however long the insert took.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from accounts.services import user_signup
from monitors.config import validate_monitor_input
from monitors.models import Monitor, MonitorType
from monitors.services import jitter_seconds

REFERENCE = datetime(2000, 1, 1, tzinfo=UTC)
PASSWORD = "bench-password-not-secret-4711"  # noqa: S105 (a throwaway bench account)


@dataclass
class Fleet:
    """One org's bench monitors and their schedule."""

    label: str
    org_id: uuid.UUID
    interval: int
    phase_ms: dict[uuid.UUID, int]  # monitor -> offset inside the interval
    keys: dict[str, uuid.UUID]  # the target URL's ?m= key -> monitor
    first_due_base: datetime | None = None  # set by activate(): first due = base + phase

    @property
    def base(self) -> datetime:
        if self.first_due_base is None:
            raise RuntimeError(f"fleet {self.label} is not activated")
        return self.first_due_base

    def first_due(self, monitor_id: uuid.UUID) -> datetime:
        return self.base + timedelta(milliseconds=self.phase_ms[monitor_id])


def make_org(label: str, seed: int) -> uuid.UUID:
    _user, org = user_signup(
        email=f"bench-{label}-{seed}@bench.pulse.local",
        password=PASSWORD,
        name=f"Bench {label}",
        org_name=f"Bench {label} {seed}",
    )
    return org.id


def seed_fleet(
    *,
    label: str,
    count: int,
    interval: int,
    timeout: int,
    target_url: str,
    seed: int,
) -> Fleet:
    org_id = make_org(label, seed)
    target, config = validate_monitor_input(
        type=MonitorType.HTTP,
        target=target_url,
        interval_seconds=interval,
        timeout_seconds=timeout,
        config={},
    )
    rng = random.Random(f"{seed}:{label}")
    interval_ms = interval * 1000
    phase_ms: dict[uuid.UUID, int] = {}
    keys: dict[str, uuid.UUID] = {}
    batch: list[Monitor] = []
    for i in range(count):
        offset = i * interval_ms // count
        monitor_id = uuid.UUID(int=rng.getrandbits(96) * interval_ms + offset)
        if round(jitter_seconds(monitor_id, interval) * 1000) != offset:
            raise AssertionError("monitor id does not encode the intended phase")
        key = f"{label[0]}{i}"
        phase_ms[monitor_id] = offset
        keys[key] = monitor_id
        batch.append(
            Monitor(
                id=monitor_id,
                org_id=org_id,
                name=f"bench {label} {i}",
                type=MonitorType.HTTP,
                target=f"{target}?m={key}",
                interval_seconds=interval,
                timeout_seconds=timeout,
                config=config,
                paused=True,
                next_check_at=REFERENCE + timedelta(milliseconds=offset),
            )
        )
        if len(batch) >= 5000:
            _insert(org_id, batch)
            batch = []
    if batch:
        _insert(org_id, batch)
    analyze_tables()
    return Fleet(label=label, org_id=org_id, interval=interval, phase_ms=phase_ms, keys=keys)


def _insert(org_id: uuid.UUID, batch: list[Monitor]) -> None:
    """Through the app role in the org's context, as the product creates monitors: the
    cross-org system role may only claim and update them, not insert."""
    from pulse import tenancy

    with tenancy.org_context(org_id):
        Monitor.objects.bulk_create(batch)


def analyze_tables() -> None:
    """Fresh planner statistics after the bulk insert, as autovacuum would have made on
    a table that grew over time (without them small-table plans, seq scans, are used)."""
    from django.db import connections

    from pulse.db import OWNER_DB

    with connections[OWNER_DB].cursor() as cursor:
        cursor.execute("ANALYZE monitors")


def activate(fleet: Fleet, first_due_base: datetime) -> None:
    """Unpause the fleet; each monitor is first due at first_due_base + its phase."""
    from django.db.models import F

    shift = first_due_base - REFERENCE
    Monitor.all_orgs.filter(org_id=fleet.org_id).update(
        paused=False, next_check_at=F("next_check_at") + shift
    )
    fleet.first_due_base = first_due_base


def pause(fleet: Fleet) -> None:
    Monitor.all_orgs.filter(org_id=fleet.org_id).update(paused=True)
