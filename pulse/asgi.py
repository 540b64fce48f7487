"""ASGI entry point: Django over HTTP, Channels consumers over WebSocket."""

import os
from typing import Any

import django
from channels.routing import ProtocolTypeRouter, URLRouter
from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pulse.settings")
django.setup()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from ingest import fastping  # noqa: E402
from pulse.routing import websocket_urlpatterns  # noqa: E402

http_app = get_asgi_application()
if settings.SERVE_STATIC:
    # Local runs have no nginx in front; production serves /static from nginx.
    http_app = ASGIStaticFilesHandler(http_app)


async def http_router(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Heartbeat pings take the fast path (ingest.fastping); everything else is Django."""
    if fastping.matches(scope):
        await fastping.heartbeat_app(scope, receive, send)
    else:
        await http_app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http_router,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
