"""Writes for alert rules and maintenance windows: validated with field-level errors,
audited, admin and above only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.audit import Actor, audit_record, diff
from accounts.permissions import Perm, require
from alerting.models import (
    AlertRule,
    AlertRuleChannel,
    AlertRuleMonitor,
    MaintenanceWindow,
    MaintenanceWindowMonitor,
    MonitorScope,
    RuleEvent,
)
from monitors.models import Monitor
from notifications.models import Channel


def _ids(value: Any, field: str, errors: dict[str, list[str]]) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(str(v)) for v in (value or [])]
    except ValueError:
        errors[field] = ["Not a list of ids."]
        return []


def _rule_fields(data: dict[str, Any]) -> tuple[dict[str, Any], list[uuid.UUID], list[uuid.UUID]]:
    errors: dict[str, list[str]] = {}
    name = str(data.get("name") or "").strip()
    if not name:
        errors["name"] = ["Give the rule a name."]
    scope = data.get("scope") or MonitorScope.ALL
    if scope not in MonitorScope.values:
        errors["scope"] = ["Choose all monitors, a tag or a list."]
    tags = sorted({str(t).strip().lower() for t in data.get("tags") or [] if str(t).strip()})
    if scope == MonitorScope.TAG and not tags:
        errors["tags"] = ["Name at least one tag."]
    events = list(dict.fromkeys(data.get("events") or []))
    if not events:
        errors["events"] = ["Choose at least one event."]
    elif any(e not in RuleEvent.values for e in events):
        errors["events"] = ["Events are down, degraded, recovered and flapping."]
    monitor_ids = _ids(data.get("monitors"), "monitors", errors)
    if scope == MonitorScope.LIST and not monitor_ids and "monitors" not in errors:
        errors["monitors"] = ["Choose at least one monitor."]
    channel_ids = _ids(data.get("channels"), "channels", errors)
    if not channel_ids and "channels" not in errors:
        errors["channels"] = ["Choose at least one channel."]
    # Ids from another org simply are not found here (tenant manager + RLS).
    if monitor_ids and Monitor.objects.filter(id__in=monitor_ids).count() != len(set(monitor_ids)):
        errors["monitors"] = ["Unknown monitor."]
    if channel_ids and Channel.objects.filter(id__in=channel_ids).count() != len(set(channel_ids)):
        errors["channels"] = ["Unknown channel."]
    repeat = data.get("repeat_minutes")
    if repeat in ("", None):
        repeat = None
    else:
        try:
            repeat = int(repeat)
            if not 1 <= repeat <= 10080:
                raise ValueError
        except (TypeError, ValueError):
            errors["repeat_minutes"] = ["Enter minutes between 1 and 10080, or leave empty."]
    if errors:
        raise ValidationError(errors)
    fields = {
        "name": name,
        "scope": scope,
        "tags": tags,
        "events": events,
        "repeat_minutes": repeat,
        "enabled": bool(data.get("enabled", True)),
    }
    return fields, list(dict.fromkeys(monitor_ids)), list(dict.fromkeys(channel_ids))


def _set_links(rule: AlertRule, monitor_ids: list[uuid.UUID], channel_ids: list[uuid.UUID]) -> None:
    AlertRuleMonitor.objects.filter(rule=rule).delete()
    AlertRuleChannel.objects.filter(rule=rule).delete()
    AlertRuleMonitor.objects.bulk_create(
        [AlertRuleMonitor(org_id=rule.org_id, rule=rule, monitor_id=m) for m in monitor_ids]
    )
    AlertRuleChannel.objects.bulk_create(
        [AlertRuleChannel(org_id=rule.org_id, rule=rule, channel_id=c) for c in channel_ids]
    )


def rule_snapshot(rule: AlertRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "scope": rule.scope,
        "tags": list(rule.tags),
        "events": list(rule.events),
        "repeat_minutes": rule.repeat_minutes,
        "enabled": rule.enabled,
        "monitors": sorted(
            str(i)
            for i in AlertRuleMonitor.objects.filter(rule=rule).values_list("monitor_id", flat=True)
        ),
        "channels": sorted(
            str(i)
            for i in AlertRuleChannel.objects.filter(rule=rule).values_list("channel_id", flat=True)
        ),
    }


def rule_create(*, actor: Actor, role: str | None, data: dict[str, Any]) -> AlertRule:
    require(role, Perm.RULE_WRITE)
    fields, monitor_ids, channel_ids = _rule_fields(data)
    with transaction.atomic():
        rule = AlertRule.objects.create(**fields)
        _set_links(rule, monitor_ids, channel_ids)
        audit_record(
            actor=actor,
            action="alert_rule.create",
            org_id=rule.org_id,
            target=rule,
            changes=rule_snapshot(rule),
        )
    return rule


def rule_update(
    *, actor: Actor, role: str | None, rule: AlertRule, data: dict[str, Any]
) -> AlertRule:
    require(role, Perm.RULE_WRITE)
    before = rule_snapshot(rule)
    fields, monitor_ids, channel_ids = _rule_fields({**before, **data})
    with transaction.atomic():
        for key, value in fields.items():
            setattr(rule, key, value)
        rule.save()
        _set_links(rule, monitor_ids, channel_ids)
        audit_record(
            actor=actor,
            action="alert_rule.update",
            org_id=rule.org_id,
            target=rule,
            changes=diff(before, rule_snapshot(rule)),
        )
    return rule


def rule_delete(*, actor: Actor, role: str | None, rule: AlertRule) -> None:
    require(role, Perm.RULE_WRITE)
    with transaction.atomic():
        audit_record(actor=actor, action="alert_rule.delete", org_id=rule.org_id, target=rule)
        rule.delete()


def _window_fields(data: dict[str, Any]) -> tuple[dict[str, Any], list[uuid.UUID]]:
    errors: dict[str, list[str]] = {}
    name = str(data.get("name") or "").strip()
    if not name:
        errors["name"] = ["Give the window a name."]
    tz = str(data.get("timezone") or "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "America" is a folder
        errors["timezone"] = ["Unknown time zone."]
    cron = str(data.get("cron") or "").strip()
    starts_at, ends_at = data.get("starts_at"), data.get("ends_at")
    duration = data.get("duration_minutes")
    if cron:
        if not croniter.is_valid(cron):
            errors["cron"] = ["Not a valid cron expression (five fields)."]
        try:
            duration = int(str(duration))
            if not 1 <= duration <= 7 * 24 * 60:
                raise ValueError
        except (TypeError, ValueError):
            errors["duration_minutes"] = ["A recurring window needs a duration in minutes."]
        starts_at = ends_at = None
    else:
        duration = None
        if not isinstance(starts_at, datetime):
            errors["starts_at"] = ["Enter when the window starts."]
        if not isinstance(ends_at, datetime):
            errors["ends_at"] = ["Enter when the window ends."]
        elif isinstance(starts_at, datetime) and ends_at <= starts_at:
            errors["ends_at"] = ["The end must come after the start."]
    monitor_ids = _ids(data.get("monitors"), "monitors", errors)
    all_monitors = bool(data.get("all_monitors", False))
    if not all_monitors and not monitor_ids and "monitors" not in errors:
        errors["monitors"] = ["Choose monitors, or all monitors."]
    if monitor_ids and Monitor.objects.filter(id__in=monitor_ids).count() != len(set(monitor_ids)):
        errors["monitors"] = ["Unknown monitor."]
    if errors:
        raise ValidationError(errors)
    return {
        "name": name,
        "timezone": tz,
        "cron": cron,
        "duration_minutes": duration,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "all_monitors": all_monitors,
        "enabled": bool(data.get("enabled", True)),
    }, list(dict.fromkeys(monitor_ids))


def maintenance_create(
    *, actor: Actor, role: str | None, data: dict[str, Any]
) -> MaintenanceWindow:
    require(role, Perm.MAINTENANCE_WRITE)
    fields, monitor_ids = _window_fields(data)
    with transaction.atomic():
        window = MaintenanceWindow.objects.create(**fields)
        MaintenanceWindowMonitor.objects.bulk_create(
            [
                MaintenanceWindowMonitor(org_id=window.org_id, window=window, monitor_id=m)
                for m in monitor_ids
            ]
        )
        audit_record(
            actor=actor,
            action="maintenance.create",
            org_id=window.org_id,
            target=window,
            changes={k: str(v) for k, v in fields.items()},
        )
    return window


def maintenance_delete(*, actor: Actor, role: str | None, window: MaintenanceWindow) -> None:
    require(role, Perm.MAINTENANCE_WRITE)
    with transaction.atomic():
        audit_record(actor=actor, action="maintenance.delete", org_id=window.org_id, target=window)
        window.delete()


__all__ = [
    "diff",
    "maintenance_create",
    "maintenance_delete",
    "rule_create",
    "rule_delete",
    "rule_update",
]
