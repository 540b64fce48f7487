"""The smoke's webhook receiver: tests/notifications/peers.py's HookReceiver (modes,
Standard Webhooks verification) served over HTTPS, because production refuses http://
webhook URLs. Its certificate comes from the smoke CA, which the stack trusts."""

from __future__ import annotations

import ssl
from pathlib import Path

from aiohttp import web

from tests.monitors.peers import _bound_socket
from tests.notifications.peers import HookReceiver


class TlsHookReceiver(HookReceiver):
    def __init__(self, pem: Path) -> None:
        super().__init__()
        self.pem = pem

    def url(self, mode: str, rest: str = "hook", *, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}/{mode}/{rest}"

    async def _start(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.pem)
        app = web.Application()
        app.router.add_route("*", "/{mode}/{rest:.*}", self._handle)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1, access_log=None
        )
        await self._runner.setup()
        sock = _bound_socket()
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock, ssl_context=context).start()
