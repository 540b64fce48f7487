"""Real local peers for probe and alert tests, all on loopback with free ports.

Each peer runs in a background thread (asyncio peers on their own event loop), so
sync tests and code that calls ``asyncio.run`` can both talk to them. Use them as
context managers, e.g. in a fixture::

    @pytest.fixture(scope="module")
    def web() -> Iterator[WebPeer]:
        with WebPeer() as peer:
            yield peer

    peer.url("/toggle"); peer.set_failing(True)
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import ssl
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import trustme
from aiohttp import web
from dnslib import QTYPE, RCODE, RR, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

BIG_BODY_BYTES = 2 * 1024 * 1024
JSON_DOC = {"data": {"items": [{"status": "green", "count": 3}]}}
WELCOME = "Welcome to Pulse"
# Loopback, but outside the allow-list the tests that use it pass (127.0.0.1/32):
# the guard must refuse it, and if the guard ever broke the stray connection would
# still stay on this machine.
PRIVATE_REDIRECT = "http://127.0.0.2:9/"
NEAR_EXPIRY_DAYS = 5


def free_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    """A port nothing listens on (bind, read the number, close). Connecting to it
    is refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _bound_socket(host: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    sock.bind((host, 0))
    return sock


class _LoopThread:
    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def call(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class _Peer:
    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# ---------------------------------------------------------------- HTTP(S)


class _Gathering:
    """``/together?n=N``: requests wait here until N of them are in flight at once."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.arrived = 0
        self.full = asyncio.Event()


class WebPeer(_Peer):
    """aiohttp app on http://127.0.0.1:PORT and on two HTTPS ports whose
    certificates (from a trustme CA, see ``ca_path``) expire in 5 days and
    expired yesterday.

    Two endpoints make concurrency tests independent of timing: ``/together?n=N``
    answers 200 only once N requests are waiting at the same time (504 after 30 s
    otherwise), and ``/hold`` answers only while the peer is not held (``hold()``,
    ``release()``), so a test decides when a probe may finish.
    """

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self._failing = False
        self._lock = threading.Lock()
        self._tmp = tempfile.TemporaryDirectory(prefix="pulse-peer-")
        self.ca = trustme.CA()
        self.ca_path = str(Path(self._tmp.name) / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_path)
        now = dt.datetime.now(dt.UTC)
        # An hour of slack so "5 days" is still 5 whole days when the test looks.
        self._near_expiry = self.ca.issue_cert(
            "127.0.0.1",
            "localhost",
            not_after=now + dt.timedelta(days=NEAR_EXPIRY_DAYS, hours=1),
        )
        self._expired = self.ca.issue_cert(
            "127.0.0.1",
            "localhost",
            not_before=now - dt.timedelta(days=30),
            not_after=now - dt.timedelta(days=1),
        )
        self.port = 0
        self.https_port = 0
        self.expired_https_port = 0
        self._gatherings: dict[int, _Gathering] = {}

    # -- controls for tests

    def hold(self) -> None:
        """``/hold`` requests wait from now on (already waiting ones keep waiting)."""
        self._thread.call(self._set_released(False))

    def release(self) -> None:
        """Every waiting and future ``/hold`` request answers 200."""
        self._thread.call(self._set_released(True))

    async def _set_released(self, released: bool) -> None:
        if released:
            self._released.set()
        else:
            self._released.clear()

    def set_failing(self, failing: bool) -> None:
        """``/toggle`` answers 500 while failing, else 200."""
        with self._lock:
            self._failing = failing

    def url(self, path: str = "/ok") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def https_url(self, path: str = "/ok", *, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.https_port}{path}"

    def expired_https_url(self, path: str = "/ok") -> str:
        return f"https://127.0.0.1:{self.expired_https_port}{path}"

    # -- the app

    def _app(self) -> web.Application:
        async def count(request: web.Request, handler: Any) -> web.StreamResponse:
            self.hits[request.path] += 1
            response: web.StreamResponse = await handler(request)
            return response

        async def ok(request: web.Request) -> web.Response:
            return web.Response(text=WELCOME)

        async def fail(request: web.Request) -> web.Response:
            return web.Response(status=500, text="Internal Server Error")

        async def slow(request: web.Request) -> web.Response:
            await asyncio.sleep(int(request.query.get("ms", "100")) / 1000)
            return web.Response(text=f"{WELCOME}, slowly")

        async def together(request: web.Request) -> web.Response:
            size = int(request.query.get("n", "2"))
            gathering = self._gatherings.get(size)
            if gathering is None or gathering.full.is_set():
                gathering = self._gatherings[size] = _Gathering(size)
            gathering.arrived += 1
            if gathering.arrived == size:
                gathering.full.set()
            try:
                await asyncio.wait_for(gathering.full.wait(), timeout=30)
            except TimeoutError:
                return web.Response(status=504, text=f"fewer than {size} requests at once")
            return web.Response(text=f"{WELCOME}, together")

        async def hold(request: web.Request) -> web.Response:
            await self._released.wait()
            return web.Response(text=f"{WELCOME}, released")

        async def json_doc(request: web.Request) -> web.Response:
            return web.json_response(JSON_DOC)

        async def redirect(request: web.Request) -> web.Response:
            raise web.HTTPFound("/ok")

        async def redirect_private(request: web.Request) -> web.Response:
            raise web.HTTPFound(PRIVATE_REDIRECT)

        async def redirect_loop(request: web.Request) -> web.Response:
            raise web.HTTPFound("/redirect-loop")

        async def toggle(request: web.Request) -> web.Response:
            with self._lock:
                failing = self._failing
            if failing:
                return web.Response(status=500, text="toggled down")
            return web.Response(text=WELCOME)

        async def echo(request: web.Request) -> web.Response:
            return web.json_response(
                {
                    "method": request.method,
                    "body": await request.text(),
                    "headers": {k.lower(): v for k, v in request.headers.items()},
                }
            )

        async def big(request: web.Request) -> web.Response:
            return web.Response(body=b"x" * BIG_BODY_BYTES, content_type="text/plain")

        app = web.Application(middlewares=[web.middleware(count)])
        app.add_routes(
            [
                web.get("/ok", ok),
                web.get("/fail", fail),
                web.get("/slow", slow),
                web.get("/together", together),
                web.get("/hold", hold),
                web.get("/json", json_doc),
                web.get("/redirect", redirect),
                web.get("/redirect-private", redirect_private),
                web.get("/redirect-loop", redirect_loop),
                web.get("/toggle", toggle),
                web.get("/big", big),
                web.route("*", "/echo", echo),
            ]
        )
        return app

    def _server_ssl(self, leaf: trustme.LeafCert) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(context)
        return context

    async def _start(self) -> None:
        self._released = asyncio.Event()
        self._released.set()
        # handler_cancellation: a client that gave up (timeout tests) must not keep
        # a sleeping handler alive until teardown.
        self._runner = web.AppRunner(
            self._app(), handler_cancellation=True, shutdown_timeout=1, access_log=None
        )
        await self._runner.setup()
        plain, near, expired = _bound_socket(), _bound_socket(), _bound_socket()
        self.port = plain.getsockname()[1]
        self.https_port = near.getsockname()[1]
        self.expired_https_port = expired.getsockname()[1]
        await web.SockSite(self._runner, plain).start()
        await web.SockSite(
            self._runner, near, ssl_context=self._server_ssl(self._near_expiry)
        ).start()
        await web.SockSite(
            self._runner, expired, ssl_context=self._server_ssl(self._expired)
        ).start()

    def start(self) -> None:
        self._thread = _LoopThread("web-peer")
        self._thread.call(self._start())

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._thread.call(self._runner.cleanup())
        self._thread.stop()
        self._tmp.cleanup()


# ---------------------------------------------------------------- TCP


class TcpPeer(_Peer):
    """``port`` greets with ``HELLO\\n`` then echoes; ``silent_port`` accepts
    connections (kernel backlog) but never reads or writes; ``closed_port`` has
    nothing listening."""

    GREETING = b"HELLO\n"

    def __init__(self) -> None:
        self.port = 0
        self.silent_port = 0
        self.closed_port = 0
        self._writers: set[asyncio.StreamWriter] = set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        writer.write(self.GREETING)
        try:
            await writer.drain()
            while data := await reader.read(4096):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _start(self) -> None:
        sock = _bound_socket()
        self._server = await asyncio.start_server(self._handle, sock=sock)
        self.port = sock.getsockname()[1]

    def target(self, which: str = "port") -> str:
        return f"127.0.0.1:{getattr(self, which)}"

    def start(self) -> None:
        self._thread = _LoopThread("tcp-peer")
        self._thread.call(self._start())
        self._silent = _bound_socket()
        self._silent.listen(16)
        self.silent_port = self._silent.getsockname()[1]
        self.closed_port = free_port()

    def stop(self) -> None:
        self._silent.close()

        async def close() -> None:
            self._server.close()
            # Server.close_clients() is 3.13+; until then, drop open clients by hand
            # so wait_closed() does not wait for them.
            for writer in list(self._writers):
                writer.transport.abort()
            await self._server.wait_closed()

        with contextlib.suppress(Exception):
            self._thread.call(close())
        self._thread.stop()


# ---------------------------------------------------------------- DNS

ZONE = """
ok.pulse.test.     60 IN A     127.0.0.1
ok.pulse.test.     60 IN AAAA  ::1
ok.pulse.test.     60 IN MX    10 mail.pulse.test.
ok.pulse.test.     60 IN TXT   "v=pulse"
ok.pulse.test.     60 IN NS    ns1.pulse.test.
www.pulse.test.    60 IN CNAME ok.pulse.test.
mail.pulse.test.   60 IN A     127.0.0.2
ns1.pulse.test.    60 IN A     127.0.0.3
"""


class _ZoneResolver(BaseResolver):
    def __init__(self, zone: str) -> None:
        self.records: list[RR] = RR.fromZone(zone)

    def _rrs(self, name: str, qtype: str) -> list[RR]:
        return [
            rr for rr in self.records if str(rr.rname).lower() == name and QTYPE[rr.rtype] == qtype
        ]

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()
        name = str(request.q.qname).lower()
        qtype = QTYPE[request.q.qtype]
        if not any(str(rr.rname).lower() == name for rr in self.records):
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        answers = self._rrs(name, qtype)
        if not answers and qtype != "CNAME":
            for cname in self._rrs(name, "CNAME"):
                answers.append(cname)
                answers += self._rrs(str(cname.rdata.label).lower(), qtype)
        for rr in answers:
            reply.add_answer(rr)
        return reply


class DnsPeer(_Peer):
    """Authoritative-looking server for ``pulse.test`` on UDP 127.0.0.1:``port``;
    ``silent_port`` is a bound UDP socket that never answers."""

    def __init__(self) -> None:
        self.port = 0
        self.silent_port = 0

    def start(self) -> None:
        quiet = DNSLogger(logf=lambda *_args: None)
        self._server = DNSServer(_ZoneResolver(ZONE), address="127.0.0.1", port=0, logger=quiet)
        self.port = self._server.server.server_address[1]
        self._server.start_thread()
        self._silent = _bound_socket(kind=socket.SOCK_DGRAM)
        self.silent_port = self._silent.getsockname()[1]

    def stop(self) -> None:
        self._server.stop()
        self._server.server.server_close()
        self._silent.close()


@contextlib.contextmanager
def all_peers() -> Iterator[tuple[WebPeer, TcpPeer, DnsPeer]]:
    with WebPeer() as web_peer, TcpPeer() as tcp_peer, DnsPeer() as dns_peer:
        yield web_peer, tcp_peer, dns_peer
