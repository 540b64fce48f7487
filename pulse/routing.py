"""WebSocket routes; the consumers live with their apps."""

from typing import Any

websocket_urlpatterns: list[Any] = []
