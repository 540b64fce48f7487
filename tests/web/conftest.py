"""Helpers for the screen tests: monitors made through the service, and history
(rollups, incidents, timeline) written directly as the org, like the engine would."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from incidents.models import EventKind, Incident, IncidentEvent
from monitors.models import Grain, Monitor, UptimeRollup, bucket_start
from pulse import tenancy
from tests.conftest import Member
from tests.monitors.test_pipeline import make


def htmx(target: str) -> dict[str, str]:
    """Headers of an HTMX request aimed at the element with id ``target``."""
    return {"HX-Request": "true", "HX-Target": target}


def monitor_for(member: Member, **data: Any) -> Monitor:
    data.setdefault("type", "http")
    data.setdefault("target", "http://127.0.0.1:9/health")
    return make(member, **data)


@pytest.fixture
def monitor(owner: Member) -> Monitor:
    return monitor_for(owner, name="Checkout API", tags=["prod", "api"])


def rollup(
    member: Member,
    monitor: Monitor,
    *,
    ago: timedelta,
    checks: int = 1,
    failures: int = 0,
    slow: int = 0,
    latency: float | None = 42.0,
) -> None:
    """One check's worth of minute and hour rollups, ``ago`` before now."""
    ts = timezone.now() - ago
    with tenancy.org_context(member.org.id):
        for grain in (Grain.MINUTE, Grain.HOUR):
            row, _ = UptimeRollup.objects.get_or_create(
                monitor=monitor,
                grain=grain,
                bucket=bucket_start(ts, grain),
                defaults={"org_id": member.org.id},
            )
            row.checks += checks
            row.failures += failures
            row.slow += slow
            if latency is not None:
                row.latency_sum += latency * checks
                row.latency_count += checks
                row.latency_min = min(row.latency_min or latency, latency)
                row.latency_max = max(row.latency_max or latency, latency)
            row.save()


def incident_for(member: Member, monitor: Monitor, *, status: str = "open") -> Incident:
    now = timezone.now()
    with tenancy.org_context(member.org.id):
        incident = Incident.objects.create(
            monitor=monitor,
            title=f"{monitor.name} is down",
            cause="status 500",
            status=status,
            opened_at=now - timedelta(minutes=5),
            resolved_at=now if status == "resolved" else None,
        )
        IncidentEvent.objects.create(
            incident=incident,
            kind=EventKind.OPENED,
            actor_label="system:state-machine",
            message="Down after 3 failing checks: status 500",
        )
    return incident
