"""Repeat notifications for down incidents nobody has acknowledged (SPEC §6-7).

Every minute (beat), for each open, unacknowledged incident and each rule with a repeat
interval that notified about it: when the rule's last notification for the incident is
older than its interval, a ``reminded`` timeline event and one outbox row per channel
are written in one transaction. Acknowledging or resolving the incident stops them.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from alerting.engine import idempotency_key
from alerting.models import AlertRule, AlertRuleChannel
from incidents.models import EventKind, Incident, IncidentEvent, IncidentStatus
from notifications.models import Notification
from pulse.db import SYSTEM_DB

REMINDER_ACTOR = "system:reminder"


def send_due_reminders() -> int:
    """Write the reminders that are due; return how many outbox rows were written."""
    now = timezone.now()
    written: list[Notification] = []
    with transaction.atomic(using=SYSTEM_DB):
        rules = {
            r.id: r for r in AlertRule.all_orgs.filter(enabled=True, repeat_minutes__isnull=False)
        }
        if not rules:
            return 0
        # The latest notification per (open, unacknowledged incident, repeating rule).
        latest = (
            Notification.all_orgs.filter(
                rule_id__in=list(rules),
                incident__status=IncidentStatus.OPEN,
                event__in=["down", "reminder"],
            )
            .values("incident_id", "rule_id")
            .annotate(last=Max("created_at"))
        )
        due = [
            row
            for row in latest
            if now - row["last"] >= timedelta(minutes=rules[row["rule_id"]].repeat_minutes or 0)
        ]
        if not due:
            return 0
        incidents = (
            Incident.all_orgs.select_for_update()
            .select_related("monitor")
            .in_bulk([row["incident_id"] for row in due])
        )
        channels: dict[uuid.UUID, list[uuid.UUID]] = {}
        for link in AlertRuleChannel.all_orgs.filter(
            rule_id__in=[row["rule_id"] for row in due], channel__enabled=True
        ):
            channels.setdefault(link.rule_id, []).append(link.channel_id)
        for row in due:
            incident = incidents.get(row["incident_id"])
            if incident is None or incident.status != IncidentStatus.OPEN:
                continue  # acknowledged or resolved meanwhile (we hold its row lock now)
            rule = rules[row["rule_id"]]
            event = IncidentEvent(
                org_id=incident.org_id,
                incident=incident,
                kind=EventKind.REMINDED,
                actor_label=REMINDER_ACTOR,
                message=f"Still down and unacknowledged; repeating every "
                f"{rule.repeat_minutes} min ({rule.name}).",
            )
            event.save(using=SYSTEM_DB, force_insert=True)
            original = (
                Notification.all_orgs.filter(incident=incident, rule=rule)
                .order_by("created_at")
                .first()
            )
            payload = dict(original.payload) if original else {}
            payload.update({"type": "monitor.reminder", "event_id": str(event.id)})
            for channel_id in channels.get(rule.id, []):
                written.append(
                    Notification(
                        org_id=incident.org_id,
                        channel_id=channel_id,
                        rule=rule,
                        incident=incident,
                        monitor_id=incident.monitor_id,
                        event_id=event.id,
                        event="reminder",
                        payload=payload,
                        idempotency_key=idempotency_key(event.id, rule.id, channel_id),
                    )
                )
        Notification.all_orgs.bulk_create(written, ignore_conflicts=True)
        if written:
            from notifications.tasks import deliver

            transaction.on_commit(
                partial(deliver.delay, ids=[str(n.id) for n in written]), using=SYSTEM_DB
            )
    return len(written)
