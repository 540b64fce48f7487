"""Turns recorded check results into state, incidents and outbox rows (SPEC §6-7).

Runs inside the transaction that records the results, with the monitors' rows
locked, so two workers evaluating the same monitor serialise on its lock and a
confirmed down, its incident, its timeline entry and its outbox rows commit
together with the result, or not at all.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Organization
from alerting import machine
from alerting.models import (
    AlertRule,
    AlertRuleChannel,
    AlertRuleMonitor,
    MaintenanceWindow,
    MaintenanceWindowMonitor,
    MonitorScope,
    MonitorTransition,
)
from incidents.models import EventKind, Incident, IncidentEvent, IncidentStatus
from monitors.models import Monitor, MonitorStatus
from notifications.models import Channel, Notification
from pulse.db import SYSTEM_DB
from pulse.db.checks import MonitorUpdate, ResultRow

SYSTEM_ACTOR = "system:state-machine"
RULE_EVENT = {
    machine.Event.DOWN: "down",
    machine.Event.DEGRADED: "degraded",
    machine.Event.RECOVERED: "recovered",
    machine.Event.FLAPPING_STARTED: "flapping",
    machine.Event.FLAPPING_STOPPED: "flapping",
}
TIMELINE_KIND = {
    machine.Event.DEGRADED: EventKind.DEGRADED,
    machine.Event.FLAPPING_STARTED: EventKind.FLAPPING_STARTED,
    machine.Event.FLAPPING_STOPPED: EventKind.FLAPPING_STOPPED,
    machine.Event.RECOVERED: EventKind.RECOVERED,
}


def idempotency_key(event_id: uuid.UUID, rule_id: uuid.UUID, channel_id: uuid.UUID) -> str:
    return hashlib.sha256(f"{event_id}:{rule_id}:{channel_id}".encode()).hexdigest()


def machine_settings(monitor: Monitor) -> machine.Settings:
    return machine.Settings(
        fail_threshold=monitor.fail_threshold,
        recover_threshold=monitor.recover_threshold,
        window=monitor.window,
        degraded_ratio=monitor.degraded_ratio,
        down_ratio=monitor.down_ratio,
        flap_high=monitor.flap_high,
        flap_low=monitor.flap_low,
    )


def window_active(window: MaintenanceWindow, now: datetime) -> bool:
    if not window.enabled:
        return False
    if window.cron and window.duration_minutes:
        local = now.astimezone(ZoneInfo(window.timezone or "UTC"))
        # The latest start at or before now (croniter's get_prev excludes `now` itself).
        start = croniter(window.cron, local + timedelta(seconds=1)).get_prev(datetime)
        return bool(start <= local < start + timedelta(minutes=window.duration_minutes))
    if window.starts_at and window.ends_at:
        return window.starts_at <= now < window.ends_at
    return False


@dataclass
class OrgConfig:
    """An org's alerting configuration: rules with their monitors and channels,
    maintenance windows with their monitors."""

    org: Organization | None = None
    rules: list[AlertRule] = field(default_factory=list)
    rule_monitors: dict[uuid.UUID, set[uuid.UUID]] = field(default_factory=dict)
    rule_channels: dict[uuid.UUID, list[Channel]] = field(default_factory=dict)
    windows: list[tuple[MaintenanceWindow, set[uuid.UUID]]] = field(default_factory=list)


class ConfigCache:
    """Alerting configuration per org, loaded once per check batch: it changes rarely,
    and reloading it for every 100 ms chunk of results was a third of the recorder's
    cost (measured by make bench). A batch lives seconds."""

    def __init__(self) -> None:
        self._orgs: dict[uuid.UUID, OrgConfig] = {}

    def for_orgs(self, org_ids: set[uuid.UUID]) -> dict[uuid.UUID, OrgConfig]:
        missing = org_ids - set(self._orgs)
        if missing:
            self._orgs.update(self._load(missing))
        return {org_id: self._orgs[org_id] for org_id in org_ids}

    @staticmethod
    def _load(org_ids: set[uuid.UUID]) -> dict[uuid.UUID, OrgConfig]:
        configs = {org_id: OrgConfig() for org_id in org_ids}
        for org in Organization.objects.using(SYSTEM_DB).filter(id__in=org_ids):
            configs[org.id].org = org
        rules = {r.id: r for r in AlertRule.all_orgs.filter(org_id__in=org_ids, enabled=True)}
        for rule in rules.values():
            configs[rule.org_id].rules.append(rule)
        if rules:
            for link in AlertRuleMonitor.all_orgs.filter(rule_id__in=list(rules)):
                config = configs[rules[link.rule_id].org_id]
                config.rule_monitors.setdefault(link.rule_id, set()).add(link.monitor_id)
            for rc in AlertRuleChannel.all_orgs.filter(
                rule_id__in=list(rules), channel__enabled=True
            ).select_related("channel"):
                configs[rc.org_id].rule_channels.setdefault(rc.rule_id, []).append(rc.channel)
        windows = list(MaintenanceWindow.all_orgs.filter(org_id__in=org_ids, enabled=True))
        members: dict[uuid.UUID, set[uuid.UUID]] = {}
        if windows:
            for wm in MaintenanceWindowMonitor.all_orgs.filter(
                window_id__in=[w.id for w in windows]
            ):
                members.setdefault(wm.window_id, set()).add(wm.monitor_id)
        for window in windows:
            configs[window.org_id].windows.append((window, members.get(window.id, set())))
        return configs


@dataclass
class _Context:
    """Everything a chunk of results needs: the (cached) configuration of its orgs and
    the open incidents of its monitors, read fresh under the monitors' row locks."""

    now: datetime
    configs: dict[uuid.UUID, OrgConfig]
    open_incidents: dict[uuid.UUID, Incident]
    new_incidents: list[Incident] = field(default_factory=list)
    changed_incidents: list[Incident] = field(default_factory=list)
    events: list[IncidentEvent] = field(default_factory=list)
    transitions: list[MonitorTransition] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)

    @classmethod
    def load(cls, monitors: Sequence[Monitor], cache: ConfigCache) -> _Context:
        open_incidents = {
            i.monitor_id: i
            for i in Incident.all_orgs.filter(monitor_id__in=[m.id for m in monitors]).exclude(
                status=IncidentStatus.RESOLVED
            )
        }
        return cls(
            now=timezone.now(),
            configs=cache.for_orgs({m.org_id for m in monitors}),
            open_incidents=open_incidents,
        )

    def in_maintenance(self, monitor: Monitor) -> MaintenanceWindow | None:
        for window, members in self.configs[monitor.org_id].windows:
            if (window.all_monitors or monitor.id in members) and window_active(window, self.now):
                return window
        return None

    def matching_rules(self, monitor: Monitor, event: machine.Event) -> list[AlertRule]:
        category = RULE_EVENT[event]
        matched = []
        config = self.configs[monitor.org_id]
        for rule in config.rules:
            if category not in rule.events:
                continue
            if rule.scope == MonitorScope.TAG and not set(rule.tags) & set(monitor.tags):
                continue
            if rule.scope == MonitorScope.LIST and monitor.id not in config.rule_monitors.get(
                rule.id, set()
            ):
                continue
            matched.append(rule)
        return matched

    def flush(self) -> None:
        Incident.all_orgs.bulk_create(self.new_incidents)
        for incident in self.changed_incidents:
            incident.save(using=SYSTEM_DB)
        MonitorTransition.all_orgs.bulk_create(self.transitions)
        IncidentEvent.all_orgs.bulk_create(self.events)
        # ON CONFLICT DO NOTHING on the idempotency key: re-evaluating an event (a
        # retried chunk) never writes a second row.
        Notification.all_orgs.bulk_create(self.notifications, ignore_conflicts=True)
        from pulse.realtime import publish_on_commit

        for incident, kind in [(i, "incident.opened") for i in self.new_incidents] + [
            (i, "incident.resolved") for i in self.changed_incidents
        ]:
            publish_on_commit(
                incident.org_id,
                kind,
                {"incident_id": incident.id, "monitor_id": incident.monitor_id},
                using=SYSTEM_DB,
            )
        if self.notifications:
            # Hand the new rows to the notifier the moment they are committed; if this
            # enqueue is lost, the outbox sweeper finds them anyway.
            from notifications.tasks import deliver

            ids = [str(n.id) for n in self.notifications]
            transaction.on_commit(partial(deliver.delay, ids=ids), using=SYSTEM_DB)


def _payload(
    ctx: _Context,
    monitor: Monitor,
    event: machine.Event,
    event_id: uuid.UUID,
    incident: Incident | None,
    row: ResultRow,
    status: str,
) -> dict[str, Any]:
    org = ctx.configs[monitor.org_id].org
    base = settings.PUBLIC_URL
    return {
        "type": f"monitor.{event.value}",
        "event_id": str(event_id),
        "occurred_at": row.ts.isoformat(),
        "org": {"id": str(monitor.org_id), "name": org.name if org else ""},
        "monitor": {
            "id": str(monitor.id),
            "name": monitor.name,
            "type": monitor.type,
            "target": monitor.target,
            "status": status,
            "tags": list(monitor.tags),
        },
        "incident": None
        if incident is None
        else {
            "id": str(incident.id),
            "title": incident.title,
            "status": incident.status,
            "opened_at": incident.opened_at.isoformat(),
        },
        "check": {
            "outcome": row.outcome,
            "error": row.error,
            "status_code": row.status_code,
            "latency_ms": row.latency_ms,
            "checked_at": row.ts.isoformat(),
        },
        "links": {
            "monitor": f"{base}/monitors/{monitor.id}",
            "incident": f"{base}/incidents/{incident.id}" if incident else None,
        },
    }


def _notify(
    ctx: _Context,
    monitor: Monitor,
    event: machine.Event,
    event_id: uuid.UUID,
    incident: Incident | None,
    row: ResultRow,
    status: str,
) -> None:
    payload = _payload(ctx, monitor, event, event_id, incident, row, status)
    for rule in ctx.matching_rules(monitor, event):
        for channel in ctx.configs[monitor.org_id].rule_channels.get(rule.id, []):
            ctx.notifications.append(
                Notification(
                    org_id=monitor.org_id,
                    idempotency_key=idempotency_key(event_id, rule.id, channel.id),
                    channel_id=channel.id,
                    rule_id=rule.id,
                    incident=incident,
                    monitor_id=monitor.id,
                    event_id=event_id,
                    event=event.value,
                    payload=payload,
                )
            )


def _maintenance(
    ctx: _Context, monitor: Monitor, window: MaintenanceWindow | None, state: machine.State
) -> MonitorUpdate | None:
    """During a window the machine is frozen and the monitor shows 'maintenance';
    when it ends, the monitor shows its machine status again."""
    if window is not None:
        if monitor.status != MonitorStatus.MAINTENANCE:
            ctx.transitions.append(
                MonitorTransition(
                    org_id=monitor.org_id,
                    monitor_id=monitor.id,
                    ts=ctx.now,
                    from_status=monitor.status,
                    to_status=MonitorStatus.MAINTENANCE,
                    reason=f"maintenance window: {window.name}",
                )
            )
        return MonitorUpdate(MonitorStatus.MAINTENANCE, state.to_json(), state.flapping)
    if monitor.status == MonitorStatus.MAINTENANCE:
        ctx.transitions.append(
            MonitorTransition(
                org_id=monitor.org_id,
                monitor_id=monitor.id,
                ts=ctx.now,
                from_status=MonitorStatus.MAINTENANCE,
                to_status=state.status.value,
                reason="maintenance window ended",
            )
        )
        monitor.status = state.status.value
    return None


def _evaluate_one(ctx: _Context, monitor: Monitor, row: ResultRow) -> MonitorUpdate:
    state = machine.State.from_json(monitor.machine_state, status=monitor.status)
    held = _maintenance(ctx, monitor, ctx.in_maintenance(monitor), state)
    if held is not None:
        return held
    shown_before = state.status.value
    out = machine.step(state, machine.Result(row.outcome), machine_settings(monitor))
    new_status = out.state.status.value
    reason = row.error or f"check {row.outcome}"
    incident = ctx.open_incidents.get(monitor.id)
    plan = machine.incident_plan(out.events, incident_open=incident is not None)

    if plan.open:
        incident = Incident(
            org_id=monitor.org_id,
            monitor_id=monitor.id,
            title=f"{monitor.name} is down",
            cause=reason,
            opened_at=row.ts,
        )
        ctx.new_incidents.append(incident)
        ctx.open_incidents[monitor.id] = incident
    # One event row per machine event: on the incident's timeline while one is open,
    # else the transition itself (degraded or flapping without an incident).
    event_ids: dict[machine.Event, uuid.UUID] = {}
    transition: MonitorTransition | None = None
    if new_status != shown_before or out.events:
        main = next((e for e in out.events if e != machine.Event.UP), None)
        transition = MonitorTransition(
            org_id=monitor.org_id,
            monitor_id=monitor.id,
            ts=row.ts,
            from_status=shown_before,
            to_status=new_status,
            reason=reason,
            event=main.value if main else "",
            incident=incident,
        )
        ctx.transitions.append(transition)
    for event in out.events:
        if event == machine.Event.UP:
            continue
        if incident is not None and (event == machine.Event.DOWN and plan.open):
            opened = IncidentEvent(
                org_id=monitor.org_id,
                incident=incident,
                ts=row.ts,
                kind=EventKind.OPENED,
                actor_label=SYSTEM_ACTOR,
                message=f"Down after {out.state.consecutive_fail} failing checks: {reason}",
                data={"status_code": row.status_code, "latency_ms": row.latency_ms},
            )
            ctx.events.append(opened)
            event_ids[event] = opened.id
        elif incident is not None and event in TIMELINE_KIND:
            entry = IncidentEvent(
                org_id=monitor.org_id,
                incident=incident,
                ts=row.ts,
                kind=TIMELINE_KIND[event],
                actor_label=SYSTEM_ACTOR,
                message=reason
                if event != machine.Event.RECOVERED
                else f"Recovered after {out.state.consecutive_ok} good checks; resolved "
                "automatically.",
            )
            ctx.events.append(entry)
            event_ids[event] = entry.id
        elif transition is not None:
            event_ids[event] = transition.id
    if plan.resolve and incident is not None:
        incident.status = IncidentStatus.RESOLVED
        incident.resolved_at = row.ts
        incident.resolution = "recovered"
        ctx.changed_incidents.append(incident)
        ctx.open_incidents.pop(monitor.id, None)
    for event in machine.notifiable(
        out.events, flapping_before=state.flapping, flapping_after=out.state.flapping
    ):
        if event in event_ids:
            _notify(ctx, monitor, event, event_ids[event], incident, row, new_status)
    return MonitorUpdate(new_status, out.state.to_json(), out.state.flapping)


def evaluate(
    rows: Sequence[ResultRow],
    monitors: dict[uuid.UUID, Monitor],
    cache: ConfigCache | None = None,
) -> dict[uuid.UUID, MonitorUpdate]:
    """Evaluate accepted results (one per monitor) whose monitors are locked."""
    if not rows:
        return {}
    ctx = _Context.load([monitors[r.monitor_id] for r in rows], cache or ConfigCache())
    updates = {row.monitor_id: _evaluate_one(ctx, monitors[row.monitor_id], row) for row in rows}
    ctx.flush()
    return updates
