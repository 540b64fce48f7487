"""WebSocket routes; the consumers live with their apps."""

from typing import Any

from django.urls import path

from pulse.consumers import OrgConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/org/", OrgConsumer.as_asgi()),
]
