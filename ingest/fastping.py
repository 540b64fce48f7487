"""Heartbeat pings on a fast path: a bare ASGI app in front of Django.

A ping is the hottest request Pulse serves (every cron job of every tenant, every
minute) and the simplest: look up the token, stamp the monitor, answer. Through
Django's full stack (a thread hop, a dozen middleware) it cost ~3.6 ms of CPU; here
it is one statement on an async pool. It answers exactly as ``ingest.views.heartbeat``
(the same statement, which serves the Django test client and WSGI fallback), with the
headers our middleware would add that matter for a JSON endpoint.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pulse.db.checks import AsyncPinger

PREFIX = "/v1/ingest/heartbeat/"
_PATH = re.compile(r"^/v1/ingest/heartbeat/([A-Za-z0-9_-]{1,64})(?:/(start|fail))?/?$")
_pinger = AsyncPinger()

Send = Callable[[dict[str, Any]], Awaitable[None]]


def matches(scope: dict[str, Any]) -> bool:
    return scope.get("type") == "http" and str(scope.get("path", "")).startswith(PREFIX)


async def _answer(
    send: Send,
    status: int,
    body: dict[str, Any],
    *,
    content_type: str,
    request_id: str,
    head: bool,
    extra: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(payload)).encode()),
                (b"x-request-id", request_id.encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"cache-control", b"no-store"),
                (b"referrer-policy", b"no-referrer"),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else payload})


async def heartbeat_app(scope: dict[str, Any], receive: Any, send: Send) -> None:
    method = scope.get("method", "GET")
    request_id = uuid.uuid4().hex
    head = method == "HEAD"
    # Drain the body (agents may POST their output); it is not stored.
    more = method == "POST"
    while more:
        message = await receive()
        more = bool(message.get("more_body"))
    path = str(scope.get("path", ""))
    if method not in ("GET", "HEAD", "POST"):
        await _answer(
            send,
            405,
            _problem(405, "Method not allowed.", path, request_id),
            content_type="application/problem+json",
            request_id=request_id,
            head=False,
            extra=((b"allow", b"GET, HEAD, POST"),),
        )
        return
    match = _PATH.match(path)
    found = None
    kind = "ok"
    if match:
        kind = match.group(2) or "ok"
        found = await _pinger.ping(token=match.group(1), kind=kind)
    if found is None:
        await _answer(
            send,
            404,
            _problem(404, "Unknown heartbeat token.", path, request_id),
            content_type="application/problem+json",
            request_id=request_id,
            head=head,
        )
        return
    await _answer(
        send,
        200,
        {"ok": True, "paused": found[2], "received": kind},
        content_type="application/json",
        request_id=request_id,
        head=head,
    )


def _problem(status: int, detail: str, path: str, request_id: str) -> dict[str, Any]:
    from pulse.errors import problem_body

    body = problem_body(status=status, detail=detail, instance=path)
    body["request_id"] = request_id
    return body
