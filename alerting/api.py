"""/v1/alert-rules (CRUD) and /v1/maintenance-windows (list, create, get, delete)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import Perm
from alerting import services
from alerting.models import AlertRule, MaintenanceWindow
from alerting.serializers import (
    AlertRuleSerializer,
    AlertRuleWriteSerializer,
    MaintenanceWindowSerializer,
    MaintenanceWindowWriteSerializer,
)
from pulse.api_auth import TenantAPI, actor_of, model_only, role_of


def _rules() -> QuerySet[AlertRule]:
    return AlertRule.objects.prefetch_related("alertrulemonitor_set", "alertrulechannel_set")


def _windows() -> QuerySet[MaintenanceWindow]:
    return MaintenanceWindow.objects.prefetch_related("maintenancewindowmonitor_set")


@extend_schema_view(
    list=extend_schema(summary="List alert rules", responses=AlertRuleSerializer(many=True)),
    retrieve=extend_schema(summary="Get an alert rule", responses=AlertRuleSerializer),
    create=extend_schema(
        summary="Create an alert rule",
        request=AlertRuleWriteSerializer,
        responses={201: AlertRuleSerializer},
    ),
    update=extend_schema(
        summary="Replace an alert rule",
        request=AlertRuleWriteSerializer,
        responses=AlertRuleSerializer,
    ),
    partial_update=extend_schema(
        summary="Change some of an alert rule",
        request=AlertRuleWriteSerializer,
        responses=AlertRuleSerializer,
    ),
    destroy=extend_schema(summary="Delete an alert rule", responses={204: None}),
)
class AlertRuleViewSet(TenantAPI, viewsets.GenericViewSet):
    serializer_class = AlertRuleSerializer
    queryset = model_only(AlertRule)
    required_perms = {
        "create": Perm.RULE_WRITE,
        "update": Perm.RULE_WRITE,
        "partial_update": Perm.RULE_WRITE,
        "destroy": Perm.RULE_WRITE,
    }

    def get_rule(self) -> AlertRule:
        try:
            return _rules().get(id=self.kwargs["id"])
        except AlertRule.DoesNotExist as exc:
            raise Http404 from exc

    def _out(self, rule: AlertRule) -> Response:
        return Response(AlertRuleSerializer(_rules().get(id=rule.id)).data)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(_rules())
        return self.get_paginated_response(AlertRuleSerializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(AlertRuleSerializer(self.get_rule()).data)

    def create(self, request: Request) -> Response:
        data = AlertRuleWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rule = services.rule_create(
            actor=actor_of(request), role=role_of(request), data=data.to_service_data()
        )
        response = self._out(rule)
        response.status_code = status.HTTP_201_CREATED
        return response

    def _update(self, request: Request, *, partial: bool) -> Response:
        rule = self.get_rule()
        data = AlertRuleWriteSerializer(data=request.data, partial=partial, current=rule)
        data.is_valid(raise_exception=True)
        rule = services.rule_update(
            actor=actor_of(request), role=role_of(request), rule=rule, data=data.to_service_data()
        )
        return self._out(rule)

    def update(self, request: Request, id: str) -> Response:
        return self._update(request, partial=False)

    def partial_update(self, request: Request, id: str) -> Response:
        return self._update(request, partial=True)

    def destroy(self, request: Request, id: str) -> Response:
        services.rule_delete(actor=actor_of(request), role=role_of(request), rule=self.get_rule())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(
        summary="List maintenance windows", responses=MaintenanceWindowSerializer(many=True)
    ),
    retrieve=extend_schema(
        summary="Get a maintenance window", responses=MaintenanceWindowSerializer
    ),
    create=extend_schema(
        summary="Create a maintenance window (one-off, or recurring with cron)",
        request=MaintenanceWindowWriteSerializer,
        responses={201: MaintenanceWindowSerializer},
    ),
    destroy=extend_schema(summary="Delete a maintenance window", responses={204: None}),
)
class MaintenanceWindowViewSet(TenantAPI, viewsets.GenericViewSet):
    serializer_class = MaintenanceWindowSerializer
    queryset = model_only(MaintenanceWindow)
    required_perms = {"create": Perm.MAINTENANCE_WRITE, "destroy": Perm.MAINTENANCE_WRITE}

    def get_window(self) -> MaintenanceWindow:
        try:
            return _windows().get(id=self.kwargs["id"])
        except MaintenanceWindow.DoesNotExist as exc:
            raise Http404 from exc

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(_windows())
        return self.get_paginated_response(MaintenanceWindowSerializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(MaintenanceWindowSerializer(self.get_window()).data)

    def create(self, request: Request) -> Response:
        data = MaintenanceWindowWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        window = services.maintenance_create(
            actor=actor_of(request), role=role_of(request), data=dict(data.validated_data)
        )
        return Response(
            MaintenanceWindowSerializer(_windows().get(id=window.id)).data,
            status=status.HTTP_201_CREATED,
        )

    def destroy(self, request: Request, id: str) -> Response:
        services.maintenance_delete(
            actor=actor_of(request), role=role_of(request), window=self.get_window()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
