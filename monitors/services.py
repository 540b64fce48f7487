"""Writes for monitors. Each is audited; input is validated per type with field-level
errors before anything is written."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import Actor, audit_record, diff
from monitors import limits
from monitors.config import validate_monitor_input
from monitors.models import ALERT_SETTINGS, Monitor, MonitorStatus, MonitorType
from pulse.realtime import publish_on_commit

MAX_NAME = limits.NAME


def jitter_seconds(monitor_id: uuid.UUID, interval_seconds: int) -> float:
    """A fixed offset inside the interval, from the id: spreads monitors evenly over
    time and keeps each one's phase stable across restarts."""
    return (monitor_id.int % (interval_seconds * 1000)) / 1000.0


def first_due(monitor_id: uuid.UUID, interval_seconds: int, now: datetime) -> datetime:
    return now + timedelta(seconds=jitter_seconds(monitor_id, interval_seconds))


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    name = str(data.get("name") or "").strip()
    if not name:
        errors["name"] = ["Give the monitor a name."]
    elif len(name) > MAX_NAME:
        errors["name"] = [f"Keep the name under {MAX_NAME} characters."]
    tags = data.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        errors["tags"] = ["Tags must be a list of words."]
    else:
        tags = sorted({t.strip().lower() for t in tags if t.strip()})
        if any(len(t) > limits.TAG for t in tags):
            errors["tags"] = [f"Keep each tag under {limits.TAG} characters."]
        elif len(tags) > limits.TAGS:
            errors["tags"] = [f"At most {limits.TAGS} tags."]
    latency = data.get("latency_degraded_ms")
    if latency in ("", None):
        latency = None
    else:
        try:
            latency = int(latency)
            if latency not in limits.LATENCY_DEGRADED_MS:
                raise ValueError
        except (TypeError, ValueError):
            errors["latency_degraded_ms"] = [limits.LATENCY_DEGRADED_MS.message("milliseconds")]
    try:
        interval = int(data.get("interval_seconds") or 60)
        timeout = int(data.get("timeout_seconds") or 10)
    except (TypeError, ValueError):
        errors.setdefault("interval_seconds", ["Enter a whole number of seconds."])
        interval, timeout = 60, 10
    target, config = "", dict[str, Any]()
    try:
        target, config = validate_monitor_input(
            type=str(data.get("type") or ""),
            target=str(data.get("target") or ""),
            interval_seconds=interval,
            timeout_seconds=timeout,
            config=data.get("config") or {},
        )
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    alert = _alert_settings(data, errors)
    if errors:
        raise ValidationError(errors)
    return {
        "name": name,
        "type": data["type"],
        "target": target,
        "interval_seconds": interval,
        "timeout_seconds": timeout,
        "config": config,
        "latency_degraded_ms": latency,
        "tags": tags,
        "regions": list(data.get("regions") or []),
        **alert,
    }


def _alert_settings(data: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    """The state machine's per-monitor settings (SPEC §6); defaults where not given."""
    defaults = {f.name: f.get_default() for f in Monitor._meta.fields if f.name in ALERT_SETTINGS}
    out: dict[str, Any] = {}
    for name, bound in limits.ALERT_INTS.items():
        value = data.get(name)
        try:
            number = int(defaults[name] if value in (None, "") else value)
            if number not in bound:
                raise ValueError
            out[name] = number
        except (TypeError, ValueError):
            errors[name] = [bound.message()]
    for name in limits.ALERT_RATIOS:
        value = data.get(name)
        try:
            ratio = float(defaults[name] if value in (None, "") else value)
            if ratio not in limits.RATIO:
                raise ValueError
            out[name] = ratio
        except (TypeError, ValueError):
            errors[name] = ["Enter a share above 0 and at most 1 (0.5 is 50 %)."]
    if "flap_low" in out and "flap_high" in out and out["flap_low"] > out["flap_high"]:
        errors["flap_low"] = [
            "The level that stops flapping must not exceed the one that starts it."
        ]
    return out


def monitor_create(*, actor: Actor, data: dict[str, Any]) -> Monitor:
    fields = _clean(data)
    now = timezone.now()
    monitor = Monitor(**fields, paused=bool(data.get("paused", False)))
    monitor.next_check_at = first_due(monitor.id, monitor.interval_seconds, now)
    if monitor.paused:
        monitor.status = MonitorStatus.PAUSED
    with transaction.atomic():
        monitor.org_id = monitor.org_id or _current_org()
        monitor.save(force_insert=True)
        audit_record(
            actor=actor,
            action="monitor.create",
            org_id=monitor.org_id,
            target=monitor,
            changes=monitor.snapshot(),
        )
        publish_on_commit(monitor.org_id, "monitor.created", {"monitor_id": monitor.id})
    return monitor


def _current_org() -> uuid.UUID:
    from pulse.tenancy import require_org_id

    return require_org_id()


def monitor_update(*, actor: Actor, monitor: Monitor, data: dict[str, Any]) -> Monitor:
    merged = {**monitor.snapshot(), **data}
    if merged["type"] != monitor.type:
        raise ValidationError({"type": ["The type of a monitor cannot change; create a new one."]})
    fields = _clean(merged)
    before = monitor.snapshot()
    with transaction.atomic():
        locked = Monitor.objects.select_for_update().get(id=monitor.id)
        for key, value in fields.items():
            setattr(locked, key, value)
        if before["interval_seconds"] != locked.interval_seconds:
            locked.next_check_at = first_due(locked.id, locked.interval_seconds, timezone.now())
        locked.updated_at = timezone.now()
        locked.save()
        audit_record(
            actor=actor,
            action="monitor.update",
            org_id=locked.org_id,
            target=locked,
            changes=diff(before, locked.snapshot()),
        )
        publish_on_commit(locked.org_id, "monitor.updated", {"monitor_id": locked.id})
    return locked


def monitor_pause(*, actor: Actor, monitor: Monitor) -> Monitor:
    with transaction.atomic():
        updated = Monitor.objects.filter(id=monitor.id, paused=False).update(
            paused=True,
            status=MonitorStatus.PAUSED,
            inflight_due_at=None,
            lease_expires_at=None,
            updated_at=timezone.now(),
        )
        if updated:
            audit_record(actor=actor, action="monitor.pause", org_id=monitor.org_id, target=monitor)
            publish_on_commit(monitor.org_id, "monitor.paused", {"monitor_id": monitor.id})
    monitor.refresh_from_db()
    return monitor


def monitor_resume(*, actor: Actor, monitor: Monitor) -> Monitor:
    now = timezone.now()
    with transaction.atomic():
        updated = Monitor.objects.filter(id=monitor.id, paused=True).update(
            paused=False,
            status=MonitorStatus.PENDING,
            next_check_at=first_due(monitor.id, min(monitor.interval_seconds, 10), now),
            updated_at=now,
        )
        if updated:
            audit_record(
                actor=actor, action="monitor.resume", org_id=monitor.org_id, target=monitor
            )
            publish_on_commit(monitor.org_id, "monitor.resumed", {"monitor_id": monitor.id})
    monitor.refresh_from_db()
    return monitor


def monitor_delete(*, actor: Actor, monitor: Monitor) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="monitor.delete",
            org_id=monitor.org_id,
            target=monitor,
            changes=monitor.snapshot(),
        )
        publish_on_commit(monitor.org_id, "monitor.deleted", {"monitor_id": monitor.id})
        monitor.delete()


def monitor_regenerate_token(*, actor: Actor, monitor: Monitor) -> Monitor:
    from monitors.models import new_heartbeat_token

    if monitor.type != MonitorType.PUSH:
        raise ValidationError("Only heartbeat monitors have a token.")
    with transaction.atomic():
        Monitor.objects.filter(id=monitor.id).update(heartbeat_token=new_heartbeat_token())
        audit_record(
            actor=actor, action="monitor.token_regenerate", org_id=monitor.org_id, target=monitor
        )
    monitor.refresh_from_db()
    return monitor
