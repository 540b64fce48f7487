"""/v1/monitors: CRUD, pause/resume, check results and uptime (SPEC §9)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import Perm
from monitors import selectors, services
from monitors.models import CheckResult, Monitor
from monitors.serializers import (
    CheckRangeSerializer,
    CheckResultSerializer,
    MonitorCreateSerializer,
    MonitorFilterSerializer,
    MonitorSerializer,
    MonitorUpdateSerializer,
    UptimeSerializer,
)
from pulse.api import Cursor
from pulse.api_auth import TenantAPI, actor_of, model_only

DEFAULT_CHECK_RANGE = timedelta(hours=24)


class MonitorCursor(Cursor):
    ordering = "-created_at"


class CheckCursor(Cursor):
    ordering = "-ts"
    page_size = 100
    max_page_size = 1000


@extend_schema_view(
    list=extend_schema(
        summary="List monitors",
        parameters=[MonitorFilterSerializer],
        responses=MonitorSerializer(many=True),
    ),
    retrieve=extend_schema(summary="Get a monitor", responses=MonitorSerializer),
    create=extend_schema(
        summary="Create a monitor",
        request=MonitorCreateSerializer,
        responses={201: MonitorSerializer},
    ),
    update=extend_schema(
        summary="Replace a monitor's settings",
        request=MonitorUpdateSerializer,
        responses=MonitorSerializer,
    ),
    partial_update=extend_schema(
        summary="Change some of a monitor's settings",
        request=MonitorUpdateSerializer,
        responses=MonitorSerializer,
    ),
    destroy=extend_schema(summary="Delete a monitor", responses={204: None}),
)
class MonitorViewSet(TenantAPI, viewsets.GenericViewSet):
    serializer_class = MonitorSerializer
    pagination_class = MonitorCursor
    queryset = model_only(Monitor)
    required_perms = {
        "create": Perm.MONITOR_WRITE,
        "update": Perm.MONITOR_WRITE,
        "partial_update": Perm.MONITOR_WRITE,
        "destroy": Perm.MONITOR_WRITE,
        "pause": Perm.MONITOR_OPERATE,
        "resume": Perm.MONITOR_OPERATE,
    }

    def get_monitor(self) -> Monitor:
        try:
            return selectors.monitor_get(monitor_id=self.kwargs["id"])
        except Monitor.DoesNotExist as exc:
            raise Http404 from exc

    def list(self, request: Request) -> Response:
        filters = MonitorFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.monitor_list(**filters.validated_data))
        return self.get_paginated_response(MonitorSerializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(MonitorSerializer(self.get_monitor()).data)

    def create(self, request: Request) -> Response:
        data = MonitorCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        monitor = services.monitor_create(actor=actor_of(request), data=dict(data.validated_data))
        return Response(MonitorSerializer(monitor).data, status=status.HTTP_201_CREATED)

    def _update(self, request: Request, *, partial: bool) -> Response:
        monitor = self.get_monitor()
        data = MonitorUpdateSerializer(data=request.data, partial=partial, current=monitor)
        data.is_valid(raise_exception=True)
        monitor = services.monitor_update(
            actor=actor_of(request), monitor=monitor, data=data.to_service_data()
        )
        return Response(MonitorSerializer(monitor).data)

    def update(self, request: Request, id: str) -> Response:
        return self._update(request, partial=False)

    def partial_update(self, request: Request, id: str) -> Response:
        return self._update(request, partial=True)

    def destroy(self, request: Request, id: str) -> Response:
        services.monitor_delete(actor=actor_of(request), monitor=self.get_monitor())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Pause a monitor (no checks, no alerts)",
        request=None,
        responses=MonitorSerializer,
    )
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, id: str) -> Response:
        monitor = services.monitor_pause(actor=actor_of(request), monitor=self.get_monitor())
        return Response(MonitorSerializer(monitor).data)

    @extend_schema(summary="Resume a paused monitor", request=None, responses=MonitorSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, id: str) -> Response:
        monitor = services.monitor_resume(actor=actor_of(request), monitor=self.get_monitor())
        return Response(MonitorSerializer(monitor).data)

    @extend_schema(
        summary="Check results in a time range, newest first",
        parameters=[CheckRangeSerializer],
        responses=CheckResultSerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=CheckCursor)
    def checks(self, request: Request, id: str) -> Response:
        monitor = self.get_monitor()
        query = CheckRangeSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        until = query.validated_data.get("until") or timezone.now()
        since = query.validated_data.get("since")
        if since is None:
            try:
                since = until - DEFAULT_CHECK_RANGE
            except OverflowError:  # an "until" in year 1
                since = until
        results = CheckResult.objects.filter(monitor_id=monitor.id, ts__gte=since, ts__lte=until)
        page = self.paginate_queryset(results)
        return self.get_paginated_response(CheckResultSerializer(page, many=True).data)

    @extend_schema(
        summary="Uptime over the last 24 hours, 7 and 30 days",
        responses=UptimeSerializer,
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def uptime(self, request: Request, id: str) -> Response:
        monitor = self.get_monitor()
        now = timezone.now()
        windows: dict[str, Any] = {}
        for name, window in selectors.UPTIME_WINDOWS.items():
            figures = selectors.uptime([monitor.id], window, now)[monitor.id]
            windows[name] = {
                "percent": figures.percent,
                "checks": figures.checks,
                "failures": figures.failures,
            }
        return Response(UptimeSerializer({"monitor": monitor.id, "windows": windows}).data)
