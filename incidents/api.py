"""/v1/incidents: list, the timeline, acknowledge, resolve and notes (SPEC §9)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import Perm
from incidents import selectors, services
from incidents.models import Incident
from incidents.serializers import (
    IncidentDetailSerializer,
    IncidentEventSerializer,
    IncidentFilterSerializer,
    IncidentSerializer,
    NoteSerializer,
    ResolveSerializer,
)
from pulse.api import Cursor
from pulse.api_auth import TenantAPI, actor_of, model_only, role_of


class IncidentCursor(Cursor):
    ordering = "-opened_at"


def _detail(incident: Incident) -> dict[str, object]:
    incident = selectors.incident_get(incident_id=incident.id)
    incident.timeline = list(selectors.incident_timeline(incident))  # type: ignore[attr-defined]
    return IncidentDetailSerializer(incident).data


@extend_schema_view(
    list=extend_schema(
        summary="List incidents, newest first",
        parameters=[IncidentFilterSerializer],
        responses=IncidentSerializer(many=True),
    ),
    retrieve=extend_schema(
        summary="Get an incident with its timeline", responses=IncidentDetailSerializer
    ),
)
class IncidentViewSet(TenantAPI, viewsets.GenericViewSet):
    serializer_class = IncidentSerializer
    pagination_class = IncidentCursor
    queryset = model_only(Incident)
    body_actions = frozenset({"resolve", "notes"})
    required_perms = {
        "acknowledge": Perm.INCIDENT_RESPOND,
        "resolve": Perm.INCIDENT_RESPOND,
        "notes": Perm.INCIDENT_RESPOND,
    }

    def get_incident(self) -> Incident:
        try:
            return selectors.incident_get(incident_id=self.kwargs["id"])
        except Incident.DoesNotExist as exc:
            raise Http404 from exc

    def list(self, request: Request) -> Response:
        filters = IncidentFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        incidents = selectors.incident_list(status=filters.validated_data.get("status"))
        monitor = filters.validated_data.get("monitor")
        if monitor is not None:
            incidents = incidents.filter(monitor_id=monitor)
        page = self.paginate_queryset(incidents.select_related("acknowledged_by", "resolved_by"))
        return self.get_paginated_response(IncidentSerializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(_detail(self.get_incident()))

    @extend_schema(
        summary="Acknowledge: stops repeat notifications",
        request=None,
        responses=IncidentDetailSerializer,
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, id: str) -> Response:
        incident = services.incident_acknowledge(
            incident=self.get_incident(), actor=actor_of(request), role=role_of(request)
        )
        return Response(_detail(incident))

    @extend_schema(
        summary="Resolve by hand, with an optional note",
        request=ResolveSerializer,
        responses=IncidentDetailSerializer,
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, id: str) -> Response:
        incident = self.get_incident()
        data = ResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        incident = services.incident_resolve(
            incident=incident,
            actor=actor_of(request),
            role=role_of(request),
            note=data.validated_data["note"],
        )
        return Response(_detail(incident))

    @extend_schema(
        summary="Add a note to the timeline",
        request=NoteSerializer,
        responses={201: IncidentEventSerializer},
    )
    @action(detail=True, methods=["post"])
    def notes(self, request: Request, id: str) -> Response:
        incident = self.get_incident()
        data = NoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.incident_add_note(
            incident=incident,
            actor=actor_of(request),
            role=role_of(request),
            text=data.validated_data["text"],
        )
        return Response(IncidentEventSerializer(entry).data, status=status.HTTP_201_CREATED)
