"""/v1/channels (CRUD with write-only secrets, send test) and /v1/notifications (the
outbox: list, get, retry dead or failed rows)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import Perm
from notifications import services
from notifications.models import Channel, Notification
from notifications.outbox import notification_retry
from notifications.serializers import (
    ChannelSerializer,
    ChannelTestResultSerializer,
    ChannelWriteSerializer,
    NotificationFilterSerializer,
    NotificationSerializer,
    api_errors,
)
from pulse.api import Cursor
from pulse.api_auth import TenantAPI, actor_of, model_only, role_of
from pulse.api_docs import BAD_REQUEST


@extend_schema_view(
    list=extend_schema(
        summary="List notification channels", responses=ChannelSerializer(many=True)
    ),
    retrieve=extend_schema(summary="Get a channel", responses=ChannelSerializer),
    create=extend_schema(
        summary="Create a channel",
        request=ChannelWriteSerializer,
        responses={201: ChannelSerializer},
    ),
    update=extend_schema(
        summary="Change a channel (secrets left out keep their stored values)",
        request=ChannelWriteSerializer,
        responses=ChannelSerializer,
    ),
    partial_update=extend_schema(
        summary="Change some of a channel's settings",
        request=ChannelWriteSerializer,
        responses=ChannelSerializer,
    ),
    destroy=extend_schema(summary="Delete a channel", responses={204: None}),
)
class ChannelViewSet(TenantAPI, viewsets.GenericViewSet):
    serializer_class = ChannelSerializer
    queryset = model_only(Channel)
    required_perms = {
        "create": Perm.CHANNEL_WRITE,
        "update": Perm.CHANNEL_WRITE,
        "partial_update": Perm.CHANNEL_WRITE,
        "destroy": Perm.CHANNEL_WRITE,
        "send_test": Perm.CHANNEL_WRITE,
    }

    def get_channel(self) -> Channel:
        try:
            return Channel.objects.get(id=self.kwargs["id"])
        except Channel.DoesNotExist as exc:
            raise Http404 from exc

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(Channel.objects.all())
        return self.get_paginated_response(ChannelSerializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(ChannelSerializer(self.get_channel()).data)

    def create(self, request: Request) -> Response:
        body = ChannelWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        kind = body.validated_data["kind"]
        data, explicit = body.to_service_data(kind)
        try:
            channel = services.channel_create(
                actor=actor_of(request), role=role_of(request), data=data
            )
        except DjangoValidationError as exc:
            raise api_errors(exc, kind, explicit) from exc
        return Response(ChannelSerializer(channel).data, status=status.HTTP_201_CREATED)

    def _update(self, request: Request, *, partial: bool) -> Response:
        channel = self.get_channel()
        body = ChannelWriteSerializer(data=request.data, partial=partial, current=channel)
        body.is_valid(raise_exception=True)
        data, explicit = body.to_service_data(channel.kind)
        try:
            channel = services.channel_update(
                actor=actor_of(request), role=role_of(request), channel=channel, data=data
            )
        except DjangoValidationError as exc:
            raise api_errors(exc, channel.kind, explicit) from exc
        return Response(ChannelSerializer(channel).data)

    def update(self, request: Request, id: str) -> Response:
        return self._update(request, partial=False)

    def partial_update(self, request: Request, id: str) -> Response:
        return self._update(request, partial=True)

    def destroy(self, request: Request, id: str) -> Response:
        services.channel_delete(
            actor=actor_of(request), role=role_of(request), channel=self.get_channel()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Send a test notification now",
        request=None,
        responses=ChannelTestResultSerializer,
        operation_id="channels_test",
    )
    @action(detail=True, methods=["post"], url_path="test", url_name="test")
    def send_test(self, request: Request, id: str) -> Response:
        outcome = services.channel_test(
            actor=actor_of(request), role=role_of(request), channel=self.get_channel()
        )
        result: dict[str, Any] = {
            "ok": outcome.ok,
            "status_code": outcome.status_code,
            "error": outcome.error,
            "latency_ms": outcome.latency_ms,
        }
        return Response(ChannelTestResultSerializer(result).data)


@extend_schema_view(
    list=extend_schema(
        summary="List notifications (the outbox), newest first",
        parameters=[NotificationFilterSerializer],
        responses=NotificationSerializer(many=True),
    ),
    retrieve=extend_schema(summary="Get a notification", responses=NotificationSerializer),
)
class NotificationViewSet(TenantAPI, viewsets.GenericViewSet):
    serializer_class = NotificationSerializer
    queryset = model_only(Notification)
    pagination_class = Cursor
    required_perms = {"retry": Perm.CHANNEL_WRITE}

    def get_notification(self) -> Notification:
        try:
            return Notification.objects.get(id=self.kwargs["id"])
        except Notification.DoesNotExist as exc:
            raise Http404 from exc

    def list(self, request: Request) -> Response:
        filters = NotificationFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rows = Notification.objects.all()
        wanted = filters.validated_data
        if "status" in wanted:
            rows = rows.filter(status=wanted["status"])
        if "channel" in wanted:
            rows = rows.filter(channel_id=wanted["channel"])
        if "incident" in wanted:
            rows = rows.filter(incident_id=wanted["incident"])
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(NotificationSerializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(NotificationSerializer(self.get_notification()).data)

    @extend_schema(
        summary="Send a dead or failed notification again, with a fresh attempt budget",
        request=None,
        responses={200: NotificationSerializer, **BAD_REQUEST},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, id: str) -> Response:
        notification = notification_retry(
            notification=self.get_notification(), actor=actor_of(request), role=role_of(request)
        )
        return Response(NotificationSerializer(notification).data)
