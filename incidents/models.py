from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from pulse.db.models import AllOrgsManager, TenantManager, TenantModel


class IncidentStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class Severity(models.TextChoices):
    DOWN = "down", "Down"
    DEGRADED = "degraded", "Degraded"


class Incident(TenantModel):
    monitor = models.ForeignKey(
        "monitors.Monitor", on_delete=models.CASCADE, related_name="incidents"
    )
    status = models.CharField(
        max_length=14, choices=IncidentStatus.choices, default=IncidentStatus.OPEN
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.DOWN)
    title = models.CharField(max_length=300)
    cause = models.TextField(blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolution = models.CharField(max_length=20, blank=True)  # recovered | manual

    objects = TenantManager["Incident"]()
    all_orgs = AllOrgsManager["Incident"]()

    class Meta:
        db_table = "incidents"
        indexes = [
            models.Index(fields=["org", "status", "-opened_at"], name="incidents_org_status")
        ]
        constraints = [
            # At most one unresolved incident per monitor (SPEC §3), whatever the code does.
            models.UniqueConstraint(
                fields=["monitor"],
                condition=~models.Q(status="resolved"),
                name="incidents_one_unresolved_per_monitor",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_resolved(self) -> bool:
        return self.status == IncidentStatus.RESOLVED


class EventKind(models.TextChoices):
    OPENED = "opened", "Opened"
    DEGRADED = "degraded", "Degraded"
    FLAPPING_STARTED = "flapping_started", "Flapping started"
    FLAPPING_STOPPED = "flapping_stopped", "Flapping stopped"
    NOTIFIED = "notified", "Notified"
    REMINDED = "reminded", "Reminder sent"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    NOTE = "note", "Note"
    RESOLVED = "resolved", "Resolved"
    RECOVERED = "recovered", "Recovered"


class IncidentEvent(TenantModel):
    """The incident timeline: entries never change, each says who or what caused it."""

    immutable_rows = True

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    ts = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=254)  # "system:state-machine", an e-mail, …
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    objects = TenantManager["IncidentEvent"]()
    all_orgs = AllOrgsManager["IncidentEvent"]()

    class Meta:
        db_table = "incident_events"
        indexes = [models.Index(fields=["incident", "ts"], name="incident_events_incident_ts")]

    def __str__(self) -> str:
        return f"{self.kind} by {self.actor_label}"
