"""HTTPS and WSS clients for the checks: a browser-like session (cookies, CSRF token
from the form, Origin and Referer as a browser sends them) and API calls with a bearer
key. Every connection verifies nginx's certificate against the smoke CA."""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import requests

SESSION_COOKIE = "__Host-pulse_session"
CSRF_COOKIE = "__Host-pulse_csrf"
TIMEOUT = 20
_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class CheckFailed(Exception):
    """A check's expectation did not hold; the message says what was seen."""


def expect(condition: object, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def wait_for(
    predicate: Callable[[], Any], *, timeout: float, what: str, every: float = 0.25
) -> Any:
    """Poll until ``predicate`` returns something truthy; return it."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise CheckFailed(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


class Web:
    """One browser-like visitor of ``base`` (https://127.0.0.1:PORT)."""

    def __init__(self, base: str, ca: Path) -> None:
        self.base = base
        self.ca = ca
        self.session = requests.Session()
        self.session.verify = str(ca)
        # Not the environment's REQUESTS_CA_BUNDLE (which would override ``verify``) nor
        # its proxies: loopback only, verified against the smoke CA.
        self.session.trust_env = False
        self.session.headers["User-Agent"] = "pulse-smoke/1.0"

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base + path

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", TIMEOUT)
        return self.session.get(self.url(path), **kwargs)

    def csrf_from(self, response: requests.Response) -> str:
        match = _CSRF_INPUT.search(response.text)
        expect(match, f"no CSRF field on {response.url} (HTTP {response.status_code})")
        assert match is not None  # for mypy; expect() raised otherwise  # noqa: S101
        return match.group(1)

    def submit(
        self, page: str, data: dict[str, str], *, action: str | None = None
    ) -> requests.Response:
        """GET the form's page, then POST the form with its CSRF token, as a browser."""
        form_page = self.get(page)
        expect(form_page.status_code == 200, f"GET {page}: HTTP {form_page.status_code}")
        return self.session.post(
            self.url(action or page),
            data={"csrfmiddlewaretoken": self.csrf_from(form_page), **data},
            headers={"Origin": self.base, "Referer": self.url(page)},
            allow_redirects=False,
            timeout=TIMEOUT,
        )

    def api(self, method: str, path: str, body: Any = None) -> requests.Response:
        """A session-authenticated API call (CSRF header from the cookie, as HTMX sends)."""
        headers = {
            "Accept": "application/json",
            "Origin": self.base,
            "Referer": self.url("/app/"),
            "X-CSRFToken": self.session.cookies.get(CSRF_COOKIE) or "",
        }
        return self.session.request(
            method, self.url(path), json=body, headers=headers, timeout=TIMEOUT
        )

    def session_cookie(self) -> str | None:
        value = self.session.cookies.get(SESSION_COOKIE)
        return str(value) if value else None


class Api:
    """API calls with a bearer key and no cookies."""

    def __init__(self, base: str, ca: Path, key: str) -> None:
        self.base = base
        self.ca = ca
        self.key = key

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(
            method,
            self.base + path,
            json=body,
            headers={"Authorization": f"Bearer {self.key}", "Accept": "application/json"},
            verify=str(self.ca),
            timeout=TIMEOUT,
        )

    def ok(self, method: str, path: str, body: Any = None, *, status: int = 200) -> Any:
        response = self.call(method, path, body)
        expect(
            response.status_code == status,
            f"{method} {path}: HTTP {response.status_code} (wanted {status}): "
            f"{response.text[:300]}",
        )
        return response.json() if response.content else None


def raw_headers(response: requests.Response, name: str) -> list[str]:
    """Every value of header ``name`` as sent (requests folds repeats into one)."""
    return [str(v) for v in response.raw.headers.getlist(name)]


def ssl_context(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


class LiveSocket:
    """The org's live socket over WSS, read on a private event loop, message by message."""

    def __init__(self, url: str, *, cookie: str, origin: str, ca: Path) -> None:
        self.url = url
        self.headers = {"Cookie": f"{SESSION_COOKIE}={cookie}", "Origin": origin}
        self.ca = ca
        self.loop = asyncio.new_event_loop()
        self.messages: list[str] = []
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    def __enter__(self) -> LiveSocket:
        self.loop.run_until_complete(self._open())
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.run_until_complete(self._close())
        self.loop.close()

    async def _open(self) -> None:
        self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(
            self.url,
            headers=self.headers,
            ssl=ssl_context(self.ca),
            timeout=aiohttp.ClientWSTimeout(ws_close=5),
        )

    async def _close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()

    async def _next(self, timeout: float) -> str:
        assert self._ws is not None  # noqa: S101 - opened in __enter__
        message = await self._ws.receive(timeout=timeout)
        if message.type == aiohttp.WSMsgType.TEXT:
            return str(message.data)
        raise CheckFailed(f"the socket ended: {message.type.name} {message.data!r}")

    def wait_for(self, predicate: Callable[[str], bool], *, timeout: float, what: str) -> str:
        """The first message (already received or arriving within ``timeout``) that
        satisfies ``predicate``."""
        for text in self.messages:
            if predicate(text):
                return text
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CheckFailed(f"no live message with {what} within {timeout:.0f} s")
            try:
                received = self.loop.run_until_complete(self._next(left))
            except TimeoutError:
                continue
            self.messages.append(received)
            if predicate(received):
                return received
