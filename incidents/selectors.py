from __future__ import annotations

import uuid

from django.db.models import QuerySet

from incidents.models import Incident, IncidentEvent


def incident_list(*, status: str | None = None) -> QuerySet[Incident]:
    incidents = Incident.objects.select_related("monitor").order_by("-opened_at")
    return incidents.filter(status=status) if status else incidents


def incident_get(*, incident_id: uuid.UUID | str) -> Incident:
    """An incident of the current org; another org's id raises DoesNotExist (→ 404)."""
    return Incident.objects.select_related("monitor", "acknowledged_by", "resolved_by").get(
        id=incident_id
    )


def incident_timeline(incident: Incident) -> QuerySet[IncidentEvent]:
    return IncidentEvent.objects.filter(incident=incident).order_by("ts")
