"""The one way Slack, Teams and custom webhooks reach a tenant-supplied URL.

Every POST goes through the egress guard (SPEC §7): https only in production, the name
resolved once by :class:`pulse.egress.GuardedResolver` and the connection made to that
checked address (TLS SNI and Host keep the name), IP-literal URLs checked here because
aiohttp skips resolvers for them, no redirects, a total timeout and a capped read.

The URLs carry keys (a Slack webhook URL is its own credential), so no text made here
quotes a URL: errors name the host at most, and whatever a receiver answers is scrubbed
of the channel's secrets before it is shown or stored.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from django.conf import settings
from yarl import URL

from notifications.channels import FieldErrors
from notifications.channels.base import Delivery, SendContext
from pulse.egress import (
    MAX_RESPONSE_BYTES,
    EgressDenied,
    GuardedResolver,
    check_address,
    require_https,
)
from pulse.logging import REDACTED, get_logger, scrub

log = get_logger(__name__)

USER_AGENT = "Pulse-Notifier/1.0"
# A receiver asking us to wait longer than this is not taken literally: alerts that
# arrive hours late are worse than a retry it refuses again.
RETRY_AFTER_CAP = 3600.0
EXCERPT_CHARS = 200
MAX_URL_LENGTH = 2048
_CHUNK = 64 * 1024
_MASK_SEGMENT = 16
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


# ---------------------------------------------------------------- URLs


def host_label(url: str) -> str:
    """``host`` or ``host:port`` of ``url``: the most an error may say about it."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = parts.port
    except ValueError:
        return "?"
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def url_display(url: str) -> str:
    """Scheme, host and path, without userinfo, query or fragment, and with long
    (token-like) path segments shortened, so the form can show which endpoint it is."""
    parts = urlsplit(url)
    segments = [
        seg[:4] + "..." if len(seg) >= _MASK_SEGMENT else seg for seg in parts.path.split("/")
    ]
    return f"{parts.scheme}://{host_label(url)}{'/'.join(segments)}"


def refused_literal(host: str) -> str | None:
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    try:
        check_address(ip, allow_cidrs=list(getattr(settings, "EGRESS_ALLOW_CIDRS", [])))
    except EgressDenied as exc:
        return str(exc)
    return None


def validate_url(value: Any, *, field: str, errors: FieldErrors, production: bool) -> str | None:
    """A normalized http(s) URL, or None after adding an error for ``field``. The
    messages never repeat the URL: it may hold a key."""
    if not isinstance(value, str) or not value.strip():
        errors.add(field, "Enter a URL.")
        return None
    url = value.strip()
    if len(url) > MAX_URL_LENGTH or any(ch.isspace() or ord(ch) < 32 for ch in url):
        errors.add(field, "Enter a valid URL (no spaces, at most 2048 characters).")
        return None
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port out of range
    except ValueError:
        errors.add(field, "Enter a valid URL.")
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        errors.add(field, "Enter an http:// or https:// URL with a host name.")
        return None
    if production and scheme != "https":
        errors.add(field, "The URL must use https://.")
        return None
    refused = refused_literal(parts.hostname)
    if refused:
        errors.add(field, f"The URL points at a non-public address ({refused}).")
        return None
    if parts.fragment:
        url = url.split("#", 1)[0]
    return url


def validate_secret_url(
    config: Mapping[str, Any],
    secrets: Mapping[str, Any],
    *,
    has_secrets: bool,
    what: str,
    errors: FieldErrors,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The shared rule of URL-credential kinds: the URL lives in ``secrets.url`` and only
    its redacted form (``url_display``) in the config."""
    out_config: dict[str, Any] = {}
    out_secrets: dict[str, Any] = {}
    if config.get("url"):
        errors.add("config.url", f"The {what} is a secret: send it as secrets.url.")
    url = secrets.get("url")
    if url in (None, ""):
        if not has_secrets:
            errors.add("secrets.url", f"Enter the {what}.")
        elif isinstance(config.get("url_display"), str):
            out_config["url_display"] = config["url_display"]
    else:
        clean = validate_url(url, field="secrets.url", errors=errors, production=settings.IS_PROD)
        if clean:
            out_secrets["url"] = clean
            out_config["url_display"] = url_display(clean)
    return out_config, out_secrets


# ---------------------------------------------------------------- responses


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), RETRY_AFTER_CAP)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(delta, 0.0), RETRY_AFTER_CAP)


def safe_text(text: str, secrets: Iterable[str], limit: int = EXCERPT_CHARS) -> str:
    """``text`` on one line, without any of ``secrets`` (nor registered secrets)."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = scrub(text)
    text = " ".join(_CONTROL.sub(" ", text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def outcome_for_status(
    status: int,
    host: str,
    *,
    retry_after: float | None = None,
    excerpt: str = "",
    latency_ms: float | None = None,
) -> Delivery:
    """The SPEC §7 mapping: 2xx sent; 408, 429 and 5xx retried (429 honours Retry-After);
    410 dead and the channel disabled; other 4xx dead; 3xx dead (never followed)."""
    if 200 <= status < 300:
        return Delivery(ok=True, status_code=status, latency_ms=latency_ms)
    text = f"HTTP {status} from {host}"
    if 300 <= status < 400:
        return Delivery(
            ok=False,
            status_code=status,
            permanent=True,
            error=f"{text}: redirects are not followed; use the final URL",
            latency_ms=latency_ms,
        )
    if excerpt:
        text = f"{text}: {excerpt}"
    if status == 410:
        return Delivery(
            ok=False,
            status_code=status,
            permanent=True,
            disable_channel=True,
            error=text,
            latency_ms=latency_ms,
        )
    if status in (408, 429) or status >= 500:
        return Delivery(
            ok=False,
            status_code=status,
            error=text,
            retry_after=retry_after if status == 429 else None,
            latency_ms=latency_ms,
        )
    if 400 <= status < 500:
        return Delivery(
            ok=False, status_code=status, permanent=True, error=text, latency_ms=latency_ms
        )
    return Delivery(ok=False, status_code=status, error=text, latency_ms=latency_ms)


async def _read_capped(resp: aiohttp.ClientResponse) -> bytes:
    """At most ``MAX_RESPONSE_BYTES``; the rest is never read."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(_CHUNK):
        room = MAX_RESPONSE_BYTES - size
        chunks.append(chunk[:room])
        size += min(len(chunk), room)
        if size >= MAX_RESPONSE_BYTES:
            break
    return b"".join(chunks)


def _guard_literal(url: URL, allow_cidrs: Sequence[str]) -> None:
    # aiohttp hands IP-literal hosts straight to connect(), skipping the resolver.
    try:
        ip = ipaddress.ip_address((url.host or "").strip("[]"))
    except ValueError:
        return
    check_address(ip, allow_cidrs=allow_cidrs)


def _connect_error(exc: aiohttp.ClientConnectorError, host: str) -> str:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate of {host} is not valid"
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        return f"TLS handshake with {host} failed"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"cannot resolve {host}"
    reasons = {
        errno.ECONNREFUSED: "connection refused",
        errno.EHOSTUNREACH: "host unreachable",
        errno.ENETUNREACH: "network unreachable",
        errno.ECONNRESET: "connection reset",
    }
    reason = reasons.get(getattr(exc.os_error, "errno", None) or 0, "connection failed")
    return f"cannot connect to {host}: {reason}"


def encode_json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


async def post_json(
    url: str,
    body: bytes,
    *,
    ctx: SendContext,
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
    kind: str = "",
) -> Delivery:
    """POST ``body`` (JSON bytes) to ``url`` and map the answer to a Delivery."""
    host = host_label(url)
    secret_list = list(secrets)
    start = time.perf_counter()
    outcome = await _post(url, body, ctx=ctx, headers=headers, host=host, secrets=secret_list)
    outcome = Delivery(
        ok=outcome.ok,
        status_code=outcome.status_code,
        error=safe_text(outcome.error, secret_list, limit=500),
        permanent=outcome.permanent,
        disable_channel=outcome.disable_channel,
        retry_after=outcome.retry_after,
        external_id=outcome.external_id,
        latency_ms=round((time.perf_counter() - start) * 1000, 2),
    )
    if not outcome.ok:
        log.warning(
            "notify.http_failed",
            kind=kind,
            host=host,
            status=outcome.status_code,
            permanent=outcome.permanent,
            error=outcome.error,
        )
    return outcome


async def _post(
    url: str,
    body: bytes,
    *,
    ctx: SendContext,
    headers: Mapping[str, str] | None,
    host: str,
    secrets: list[str],
) -> Delivery:
    try:
        require_https(url, production=ctx.production)
        target = URL(url)
        _guard_literal(target, ctx.allow_cidrs)
    except EgressDenied as exc:
        return Delivery(ok=False, permanent=True, error=str(exc))
    except ValueError:
        return Delivery(ok=False, permanent=True, error="the URL is not valid")
    sent_headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **(headers or {}),
    }
    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(ctx.allow_cidrs),
        use_dns_cache=False,
        force_close=True,
        limit=1,
    )
    try:
        # trust_env=False: a proxy from the worker's environment would make the
        # connection, bypassing the address check.
        async with (
            aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=ctx.timeout),
                trust_env=False,
            ) as session,
            session.post(target, data=body, headers=sent_headers, allow_redirects=False) as resp,
        ):
            content = await _read_capped(resp)
            status = resp.status
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
    except EgressDenied as exc:
        return Delivery(ok=False, permanent=True, error=str(exc))
    except TimeoutError:
        return Delivery(ok=False, error=f"timed out after {ctx.timeout:g} s waiting for {host}")
    except aiohttp.ClientConnectorError as exc:
        return Delivery(ok=False, error=_connect_error(exc, host))
    except aiohttp.ServerDisconnectedError:
        return Delivery(ok=False, error=f"{host} closed the connection without answering")
    except aiohttp.InvalidURL:
        return Delivery(ok=False, permanent=True, error="the URL is not valid")
    except (aiohttp.ClientError, asyncio.IncompleteReadError, OSError) as exc:
        return Delivery(ok=False, error=f"request to {host} failed ({type(exc).__name__})")
    except ValueError:
        # aiohttp refuses e.g. credentials in the URL plus an Authorization header.
        return Delivery(
            ok=False,
            permanent=True,
            error="the request could not be built from the URL and headers",
        )
    excerpt = ""
    if status >= 400:
        excerpt = safe_text(content.decode("utf-8", errors="replace"), secrets)
    return outcome_for_status(status, host, retry_after=retry_after, excerpt=excerpt)
