"""/v1/incidents shapes: the incident, its timeline, and the staff actions' input."""

from __future__ import annotations

from rest_framework import serializers

from incidents.models import EventKind, Incident, IncidentEvent, IncidentStatus, Severity
from incidents.services import MAX_NOTE
from pulse.api_docs import EnumField
from pulse.api_input import StrictInput


class IncidentEventSerializer(serializers.ModelSerializer):
    kind = EnumField("IncidentEventKind", EventKind.choices)
    actor = serializers.CharField(
        source="actor_label", help_text="An e-mail, an API key or system:…"
    )

    class Meta:
        model = IncidentEvent
        fields = ["id", "ts", "kind", "actor", "message", "data"]
        read_only_fields = fields


class IncidentSerializer(serializers.ModelSerializer):
    monitor = serializers.UUIDField(source="monitor_id")
    monitor_name = serializers.CharField(source="monitor.name")
    status = EnumField("IncidentStatus", IncidentStatus.choices)
    severity = serializers.ChoiceField(choices=Severity.choices)
    acknowledged_by = serializers.CharField(
        source="acknowledged_by.email", allow_null=True, default=None, help_text="E-mail."
    )
    resolved_by = serializers.CharField(
        source="resolved_by.email", allow_null=True, default=None, help_text="E-mail."
    )

    class Meta:
        model = Incident
        fields = [
            "id",
            "monitor",
            "monitor_name",
            "status",
            "severity",
            "title",
            "cause",
            "opened_at",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "resolved_by",
            "resolution",
        ]
        read_only_fields = fields


class IncidentDetailSerializer(IncidentSerializer):
    events = IncidentEventSerializer(
        many=True, source="timeline", help_text="The timeline, oldest first."
    )

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "events"]
        read_only_fields = fields


class IncidentFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=IncidentStatus.choices, required=False)
    monitor = serializers.UUIDField(required=False)


class ResolveSerializer(StrictInput):
    note = serializers.CharField(max_length=MAX_NOTE, required=False, allow_blank=True, default="")


class NoteSerializer(StrictInput):
    text = serializers.CharField(max_length=MAX_NOTE)
