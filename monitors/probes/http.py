"""HTTP(S) probe: one request (plus up to five redirects, followed by hand so each
hop passes the egress guard), then the assertions on status, body, JSON, time and
TLS certificate."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
import ssl
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
from cryptography import x509
from multidict import CIMultiDict
from yarl import URL

from monitors.config import format_json_path, parse_json_path, parse_status_range
from monitors.probes.base import (
    ProbeContext,
    ProbeResult,
    ProbeSpec,
    Verdict,
    connection_record,
    failed,
    os_error_text,
    timed_out,
)
from pulse.egress import MAX_RESPONSE_BYTES, EgressDenied, check_address

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "Pulse-Monitor/1.0 (+uptime check)"
# Credentials meant for the first host must not leak to another one on redirect.
_CROSS_ORIGIN_DROP = ("authorization", "cookie", "proxy-authorization")
_CHUNK = 64 * 1024


class _Hop(Exception):
    """A failure that already carries its tenant-facing text."""


def _guard_literal(url: URL, allow_cidrs: Any) -> None:
    # aiohttp hands IP-literal hosts straight to connect(), skipping the resolver,
    # so the guard has to see them here.
    if url.scheme not in ("http", "https"):
        raise _Hop(f"unsupported URL scheme {url.scheme or '(none)'}")
    host = url.host or ""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return
    check_address(ip, allow_cidrs=allow_cidrs)


async def _read_capped(resp: aiohttp.ClientResponse) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(_CHUNK):
        room = MAX_RESPONSE_BYTES - size
        if len(chunk) > room:
            chunks.append(chunk[:room])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


def _connect_error(exc: aiohttp.ClientConnectorError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert_error = exc.certificate_error
        reason = getattr(cert_error, "verify_message", None) or str(cert_error)
        return f"TLS certificate invalid: {reason}"
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        return f"TLS handshake failed: {exc.os_error}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"cannot resolve {exc.host}"
    return os_error_text(exc.os_error)


def _status_ok(code: int, accepted: list[str]) -> bool:
    for item in accepted:
        low, high = parse_status_range(item)
        if low <= code <= high:
            return True
    return False


def _lookup(doc: Any, parts: list[str | int]) -> tuple[bool, Any]:
    current = doc
    for part in parts:
        if isinstance(part, int):
            if not isinstance(current, list) or not -len(current) <= part < len(current):
                return False, None
            current = current[part]
        else:
            if not isinstance(current, dict) or part not in current:
                return False, None
            current = current[part]
    return True, current


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool):
        if isinstance(expected, bool):
            return actual is expected
        return str(expected).strip().lower() == ("true" if actual else "false")
    if actual is None:
        return expected is None or str(expected).strip().lower() == "null"
    if isinstance(actual, int | float):
        other = _number(expected)
        return other is not None and float(actual) == other
    if isinstance(actual, str):
        if isinstance(expected, int | float) and not isinstance(expected, bool):
            number = _number(actual)
            return number is not None and number == float(expected)
        return actual == str(expected)
    # Objects and arrays compare as compact JSON, which is what a user can type.
    return json.dumps(actual, separators=(",", ":"), sort_keys=True) == str(expected)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_json(verdict: Verdict, text: str, truncated: bool, config: Any) -> None:
    try:
        doc = json.loads(text)
    except ValueError:
        suffix = " (truncated at 1 MiB)" if truncated else ""
        verdict.fail(f"response is not valid JSON{suffix}")
        return
    parts = parse_json_path(config["json_path"])
    path = format_json_path(parts)
    op = config.get("json_op") or "eq"
    expected = config.get("json_expected")
    found, actual = _lookup(doc, parts)
    if op == "exists":
        if not found:
            verdict.fail(f"JSON path {path} not found")
        return
    if not found:
        verdict.fail(f"JSON path {path} not found")
        return
    ok: bool
    if op in ("eq", "ne"):
        ok = _equal(actual, expected) == (op == "eq")
    elif op == "contains":
        if isinstance(actual, str):
            ok = str(expected) in actual
        elif isinstance(actual, list):
            ok = any(_equal(item, expected) for item in actual)
        elif isinstance(actual, dict):
            ok = str(expected) in actual
        else:
            ok = False
    else:
        left, right = _number(actual), _number(expected)
        if left is None or right is None:
            verdict.fail(f"JSON {path} is {_show(actual)}, not a number")
            return
        ok = {
            "lt": left < right,
            "le": left <= right,
            "gt": left > right,
            "ge": left >= right,
        }[op]
    if not ok:
        verdict.fail(f"JSON {path} is {_show(actual)}, expected {op} {_show(expected)}")


def _decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


async def probe_http(spec: ProbeSpec, ctx: ProbeContext) -> ProbeResult:
    config = spec.config
    method = str(config.get("method") or "GET").upper()
    body: str = config.get("body") or ""
    headers: CIMultiDict[str] = CIMultiDict(config.get("headers") or {})
    headers.setdefault("User-Agent", USER_AGENT)
    follow = bool(config.get("follow_redirects", True))
    verify = bool(config.get("verify_tls", True))
    ssl_context: ssl.SSLContext = ctx.ssl_context(config.get("ca_bundle") or None, verify)
    session = ctx.session()

    url = URL(spec.target)
    first_origin = url.origin()
    redirects = 0
    details: dict[str, Any] = {}
    record: dict[str, Any] = {}
    token = connection_record.set(record)
    start = time.perf_counter()
    try:
        async with asyncio.timeout(spec.timeout):
            while True:
                _guard_literal(url, ctx.allow_cidrs)
                async with session.request(
                    method,
                    url,
                    headers=headers,
                    data=body.encode() if body else None,
                    allow_redirects=False,
                    ssl=ssl_context,
                ) as resp:
                    location = resp.headers.get("Location")
                    if follow and resp.status in REDIRECT_STATUSES and location:
                        if redirects >= MAX_REDIRECTS:
                            raise _Hop(f"too many redirects (more than {MAX_REDIRECTS})")
                        try:
                            url = resp.url.join(URL(location))
                        except ValueError as exc:
                            raise _Hop(f"invalid redirect location {location!r}") from exc
                        redirects += 1
                        if resp.status == 303 or (
                            resp.status in (301, 302) and method not in ("GET", "HEAD")
                        ):
                            method, body = "GET", ""
                        if url.origin() != first_origin:
                            for name in _CROSS_ORIGIN_DROP:
                                headers.popall(name, None)
                        continue
                    content, truncated = await _read_capped(resp)
                    latency_ms = (time.perf_counter() - start) * 1000
                    status = resp.status
                    charset = resp.charset
                    break
    except TimeoutError:
        return failed(timed_out(spec.timeout), details=details)
    except EgressDenied as exc:
        prefix = f"redirect to {url} refused: " if redirects else ""
        return failed(prefix + str(exc))
    except _Hop as exc:
        return failed(str(exc))
    except aiohttp.ClientConnectorError as exc:
        return failed(_connect_error(exc))
    except aiohttp.ServerDisconnectedError:
        return failed("server closed the connection without a response")
    except aiohttp.ClientPayloadError as exc:
        return failed(f"response body incomplete: {exc}")
    except aiohttp.ClientResponseError as exc:
        return failed(f"invalid HTTP response: {exc.message}")
    except aiohttp.InvalidURL as exc:
        return failed(f"invalid URL {exc.url}")
    except aiohttp.ClientError as exc:
        return failed(f"request failed: {exc}")
    except ConnectionRefusedError:
        return failed("connection refused")
    finally:
        connection_record.reset(token)
    der: bytes | None = record.get("der")
    address: str | None = record.get("address")

    details["response_bytes"] = len(content)
    if truncated:
        details["truncated"] = True
    if redirects:
        details["final_url"] = str(url)
        details["redirects"] = redirects
    if address:
        details["address"] = address

    verdict = Verdict()
    if der is not None:
        not_after = x509.load_der_x509_certificate(der).not_valid_after_utc
        days_left = math.floor((not_after - datetime.now(UTC)).total_seconds() / 86400)
        details["tls_days_left"] = days_left
        details["tls_not_after"] = not_after.isoformat()
        # Without verification the handshake accepts anything, so expiry is only
        # reported, not judged: the tenant opted out of certificate checks.
        warn_days = config.get("tls_expiry_days", 14)
        if verify and warn_days and days_left < warn_days:
            verdict.warn(f"certificate expires in {days_left} days")

    accepted = list(config.get("accepted_status") or ["200-299"])
    if not _status_ok(status, accepted):
        verdict.fail(f"status {status} not in accepted {', '.join(accepted)}")

    keyword = config.get("keyword") or ""
    keyword_absent = config.get("keyword_absent") or ""
    needs_text = keyword or keyword_absent or config.get("json_path")
    text = _decode(content, charset) if needs_text else ""
    if keyword and keyword not in text:
        verdict.fail(f"keyword {keyword!r} not found")
    if keyword_absent and keyword_absent in text:
        verdict.fail(f"keyword {keyword_absent!r} found but must be absent")
    if config.get("json_path"):
        _check_json(verdict, text, truncated, config)

    max_ms = config.get("max_response_ms")
    if max_ms is not None and latency_ms > max_ms:
        verdict.fail(f"response took {latency_ms:.0f} ms, over the {max_ms} ms limit")

    return verdict.result(spec, latency_ms=latency_ms, status_code=status, details=details)
