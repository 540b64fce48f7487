"""Real local peers for the notification channels, all on 127.0.0.1 with free ports,
each in a background thread with its own event loop (see tests/monitors/peers.py):

- :class:`SmtpSink`: an aiosmtpd server that keeps every message, can require a login
  and can refuse chosen recipients with any reply;
- :class:`HookReceiver`: an aiohttp server for Slack, Teams and custom webhooks; the
  first path segment picks the answer (``/ok/...``, ``/fail/...``, ``/limited/...``),
  and Standard Webhooks signatures are verified with the secrets it is given;
- :class:`FakeTwilio`: the one Twilio REST endpoint the SMS channel uses,
  ``POST /2010-04-01/Accounts/{sid}/Messages.json``, with HTTP basic auth checked.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
import warnings
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.monitors.peers import PRIVATE_REDIRECT, _bound_socket, _LoopThread, _Peer

__all__ = ["PRIVATE_REDIRECT", "FakeTwilio", "HookReceiver", "SmtpSink"]

# ---------------------------------------------------------------- SMTP


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    login: str | None


class SmtpSink(_Peer):
    """Keeps what it receives in ``messages``. ``credentials=(user, password)`` makes
    AUTH mandatory (over plain text: this is loopback); ``refuse[address] = "550 ..."``
    answers RCPT TO for that address with the given reply."""

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.credentials = credentials
        self.messages: list[ReceivedMail] = []
        self.refuse: dict[str, str] = {}
        self.port = 0

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if self.credentials and isinstance(data, LoginPassword):
            user, password = self.credentials
            if data.login.decode() == user and data.password.decode() == password:
                return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self.refuse.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        login = session.auth_data if isinstance(session.auth_data, str) else None
        content = envelope.original_content or envelope.content or b""
        self.messages.append(
            ReceivedMail(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                content=content if isinstance(content, bytes) else content.encode(),
                login=login,
            )
        )
        return "250 Message accepted for delivery"

    def _factory(self) -> SMTP:
        # Plain-text AUTH is what this loopback sink is for; aiosmtpd warns about it.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return self._smtp()

    def _smtp(self) -> SMTP:
        return SMTP(
            self,
            hostname="sink.pulse.test",
            auth_required=self.credentials is not None,
            auth_require_tls=False,
            authenticator=self._authenticate,
        )

    async def _start(self) -> None:
        sock = _bound_socket()
        self.port = sock.getsockname()[1]
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._factory, sock=sock)

    def start(self) -> None:
        # aiosmtpd logs every SMTP command at INFO.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self._thread = _LoopThread("smtp-sink")
        self._thread.call(self._start())

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            await asyncio.wait_for(self._server.wait_closed(), 2)

        with contextlib.suppress(Exception):
            self._thread.call(close())
        self._thread.stop()


# ---------------------------------------------------------------- webhooks


def standard_webhooks_verify(
    secret: str, headers: dict[str, str], body: bytes, *, tolerance: int = 300
) -> bool:
    """The receiver's side of https://www.standardwebhooks.com, written from the spec."""
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (msg_id and timestamp.isdigit() and signatures):
        return False
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(
        hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    for item in signatures.split(" "):
        version, _, signature = item.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False


@dataclass
class ReceivedHook:
    mode: str
    path_qs: str
    headers: dict[str, str]
    body: bytes
    verified: bool | None = None

    def json(self) -> Any:
        return json.loads(self.body)


class HookReceiver(_Peer):
    """``url(mode, rest)`` → ``http://127.0.0.1:PORT/<mode>/<rest>``. Modes: ok (200),
    accepted (202), fail (500), timeout408 (408), limited (429, Retry-After: 7),
    limited-date (429, Retry-After as an HTTP date 30 s ahead), gone (410), bad (400),
    slow (answers after 5 s), delay (``/delay/<ms>``, then 200), redirect (302 to a
    loopback address outside the tests' allow-list). Error answers echo the request line
    and headers back, as careless receivers do, so tests can check that none of it
    reaches our texts unscrubbed."""

    def __init__(self) -> None:
        self.received: list[ReceivedHook] = []
        self.signing_secrets: list[str] = []
        self.port = 0

    def url(self, mode: str, rest: str = "hook", *, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/{mode}/{rest}"

    def for_mode(self, mode: str) -> list[ReceivedHook]:
        return [hook for hook in self.received if hook.mode == mode]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        mode = request.match_info["mode"]
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        verified = None
        if self.signing_secrets and "webhook-signature" in headers:
            verified = any(
                standard_webhooks_verify(secret, headers, body) for secret in self.signing_secrets
            )
        self.received.append(ReceivedHook(mode, request.path_qs, headers, body, verified))
        echo = f"{mode} for {request.method} {request.path_qs} headers={headers}"
        if mode == "ok":
            return web.Response(text="ok")
        if mode == "accepted":
            return web.Response(status=202)
        if mode == "fail":
            return web.Response(status=500, text=echo)
        if mode == "timeout408":
            return web.Response(status=408, text=echo)
        if mode == "limited":
            return web.Response(status=429, text=echo, headers={"Retry-After": "7"})
        if mode == "limited-date":
            return web.Response(
                status=429,
                text=echo,
                headers={"Retry-After": formatdate(time.time() + 30, usegmt=True)},
            )
        if mode == "gone":
            return web.Response(status=410, text=echo)
        if mode == "slow":
            await asyncio.sleep(5)
            return web.Response(text="late")
        if mode == "delay":  # /delay/<ms>: a receiver that takes a while, then accepts
            await asyncio.sleep(int(request.match_info["rest"] or 0) / 1000)
            return web.Response(text="ok")
        if mode == "redirect":
            raise web.HTTPFound(PRIVATE_REDIRECT)
        return web.Response(status=400, text=echo)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{mode}/{rest:.*}", self._handle)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1, access_log=None
        )
        await self._runner.setup()
        sock = _bound_socket()
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    def start(self) -> None:
        self._thread = _LoopThread("hook-receiver")
        self._thread.call(self._start())

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._thread.call(self._runner.cleanup())
        self._thread.stop()


# ---------------------------------------------------------------- Twilio


@dataclass
class TwilioRequest:
    account_sid: str
    form: dict[str, str]
    authorized: bool


class FakeTwilio(_Peer):
    """Twilio's Messages resource, enough for ``client.messages.create``. Accounts are
    registered with ``add_account(sid, token)``; a wrong token answers 401 and an
    unknown account 404 (with Twilio's wording, which quotes the resource path). The
    number +15005550001 is invalid (400, error 21211), like Twilio's magic test number.
    ``fail_with = (status, code, message)`` makes every request fail that way."""

    INVALID_NUMBER = "+15005550001"

    def __init__(self) -> None:
        self.accounts: dict[str, str] = {}
        self.requests: list[TwilioRequest] = []
        self.created: list[dict[str, Any]] = []
        self.fail_with: tuple[int, int, str] | None = None
        self._lock = threading.Lock()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_account(self, sid: str, token: str) -> None:
        self.accounts[sid] = token

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        return web.json_response(
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
            status=status,
        )

    async def _messages(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        form = {k: str(v) for k, v in (await request.post()).items()}
        expected = self.accounts.get(sid)
        given = request.headers.get("Authorization", "")
        good = "Basic " + base64.b64encode(f"{sid}:{expected}".encode()).decode()
        authorized = expected is not None and hmac.compare_digest(given, good)
        with self._lock:
            self.requests.append(TwilioRequest(sid, form, authorized))
        if expected is None:
            return self._error(
                404,
                20404,
                f"The requested resource /2010-04-01/Accounts/{sid}/Messages.json was not found",
            )
        if not authorized:
            return self._error(401, 20003, "Authenticate")
        if self.fail_with is not None:
            return self._error(*self.fail_with)
        if form.get("To") == self.INVALID_NUMBER:
            return self._error(
                400, 21211, f"The 'To' number {form['To']} is not a valid phone number."
            )
        message_sid = "SM" + uuid.uuid4().hex
        now = formatdate(usegmt=True)
        created = {
            "account_sid": sid,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": message_sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}/Media.json"
            },
            "to": form.get("To"),
            "uri": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}.json",
        }
        with self._lock:
            self.created.append({**created, "status_callback": form.get("StatusCallback")})
        return web.json_response(created, status=201)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._messages)
        self._runner = web.AppRunner(app, shutdown_timeout=1, access_log=None)
        await self._runner.setup()
        sock = _bound_socket()
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    def start(self) -> None:
        self._thread = _LoopThread("fake-twilio")
        self._thread.call(self._start())

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._thread.call(self._runner.cleanup())
        self._thread.stop()
