"""Staff actions on incidents: acknowledge, resolve, note. Each is allowed to
operator and above, lands on the timeline with its actor, and is audited."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import Actor, audit_record
from accounts.permissions import Perm, require
from incidents.models import EventKind, Incident, IncidentEvent, IncidentStatus
from pulse.realtime import publish_on_commit

MAX_NOTE = 5000


def _publish(incident: Incident, kind: str) -> None:
    publish_on_commit(
        incident.org_id, kind, {"incident_id": incident.id, "monitor_id": incident.monitor_id}
    )


def _timeline(incident: Incident, actor: Actor, kind: str, message: str = "") -> IncidentEvent:
    return IncidentEvent.objects.create(
        org_id=incident.org_id,
        incident=incident,
        kind=kind,
        actor_user=actor.user,
        actor_label=actor.display[:254],
        message=message,
    )


def incident_acknowledge(*, incident: Incident, actor: Actor, role: str | None) -> Incident:
    """Stops repeat notifications. Acknowledging twice is a no-op, not an error."""
    require(role, Perm.INCIDENT_RESPOND)
    with transaction.atomic():
        now = timezone.now()
        changed = Incident.objects.filter(id=incident.id, status=IncidentStatus.OPEN).update(
            status=IncidentStatus.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=actor.user
        )
        if changed:
            _timeline(incident, actor, EventKind.ACKNOWLEDGED)
            _publish(incident, "incident.acknowledged")
            audit_record(
                actor=actor, action="incident.acknowledge", org_id=incident.org_id, target=incident
            )
    incident.refresh_from_db()
    return incident


def incident_resolve(
    *, incident: Incident, actor: Actor, role: str | None, note: str = ""
) -> Incident:
    require(role, Perm.INCIDENT_RESPOND)
    with transaction.atomic():
        now = timezone.now()
        changed = (
            Incident.objects.filter(id=incident.id)
            .exclude(status=IncidentStatus.RESOLVED)
            .update(
                status=IncidentStatus.RESOLVED,
                resolved_at=now,
                resolved_by=actor.user,
                resolution="manual",
            )
        )
        if changed:
            _timeline(incident, actor, EventKind.RESOLVED, note.strip()[:MAX_NOTE])
            _publish(incident, "incident.resolved")
            audit_record(
                actor=actor, action="incident.resolve", org_id=incident.org_id, target=incident
            )
    incident.refresh_from_db()
    return incident


def incident_add_note(
    *, incident: Incident, actor: Actor, role: str | None, text: str
) -> IncidentEvent:
    require(role, Perm.INCIDENT_RESPOND)
    text = text.strip()
    if not text:
        raise ValidationError({"text": ["Write something first."]})
    if len(text) > MAX_NOTE:
        raise ValidationError({"text": [f"Keep notes under {MAX_NOTE} characters."]})
    with transaction.atomic():
        entry = _timeline(incident, actor, EventKind.NOTE, text)
        _publish(incident, "incident.note")
        audit_record(
            actor=actor,
            action="incident.note",
            org_id=incident.org_id,
            target=incident,
            changes={"note": text[:200]},
        )
    return entry
