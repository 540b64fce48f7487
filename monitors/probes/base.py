"""Plain data shared by the probes: what to probe, what came back, and the per-run
context (shared HTTP session, ICMP sockets, egress allow-list).

Probes never touch the database or Django models: the batch task turns monitors
into :class:`ProbeSpec` values and writes :class:`ProbeResult` values back.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import ssl
import uuid
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp.client_reqrep import ClientRequest
from aiohttp.connector import Connection

from pulse.egress import GuardedResolver

if TYPE_CHECKING:
    from aiohttp.tracing import Trace

    from monitors.probes.icmp import Pinger


class Outcome(StrEnum):
    OK = "ok"
    SLOW = "slow"
    FAIL = "fail"


@dataclass(frozen=True)
class ProbeSpec:
    monitor_id: uuid.UUID
    type: str
    target: str
    timeout: float
    config: Mapping[str, Any]
    latency_degraded_ms: int | None = None


@dataclass
class ProbeResult:
    outcome: Outcome
    latency_ms: float | None
    status_code: int | None = None
    error: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Up, possibly degraded: the check answered and every hard assertion held."""
        return self.outcome is not Outcome.FAIL


def format_seconds(value: float) -> str:
    """5 → "5.0", 0.25 → "0.25": one decimal at least, no float noise."""
    text = f"{value:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def timed_out(timeout: float, what: str = "") -> str:
    suffix = f" {what}" if what else ""
    return f"timed out after {format_seconds(timeout)} s{suffix}"


def os_error_text(exc: OSError | None) -> str:
    code = exc.errno if exc is not None else None
    if code == errno.ECONNREFUSED:
        return "connection refused"
    if code in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "host unreachable"
    if code == errno.ECONNRESET:
        return "connection reset"
    return f"connection failed: {(exc.strerror if exc else None) or exc}"


class Verdict:
    """Accumulates hard failures and soft warnings while a probe checks its
    assertions, then turns them into one result."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.warnings: list[str] = []

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def result(
        self,
        spec: ProbeSpec,
        *,
        latency_ms: float | None,
        status_code: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> ProbeResult:
        latency = round(latency_ms, 3) if latency_ms is not None else None
        if self.failures:
            return ProbeResult(
                Outcome.FAIL, latency, status_code, "; ".join(self.failures), details or {}
            )
        warnings = list(self.warnings)
        degraded = spec.latency_degraded_ms
        if degraded is not None and latency is not None and latency > degraded:
            warnings.append(f"latency {latency:.0f} ms above {degraded} ms")
        outcome = Outcome.SLOW if warnings else Outcome.OK
        return ProbeResult(outcome, latency, status_code, "; ".join(warnings), details or {})


def failed(
    message: str,
    *,
    latency_ms: float | None = None,
    status_code: int | None = None,
    details: dict[str, Any] | None = None,
) -> ProbeResult:
    return ProbeResult(Outcome.FAIL, latency_ms, status_code, message, details or {})


# Set by the HTTP probe in its own task; the connector fills in what it saw.
connection_record: ContextVar[dict[str, Any] | None] = ContextVar(
    "pulse_probe_connection", default=None
)


class RecordingConnector(aiohttp.TCPConnector):
    """Notes the peer address and certificate (DER) of each connection it hands out.

    aiohttp releases the connection of a small response as soon as its body is
    buffered, before the caller can look at ``response.connection``, so the
    certificate has to be captured here.
    """

    async def connect(
        self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> Connection:
        conn = await super().connect(req, traces, timeout)
        record = connection_record.get()
        transport = conn.transport
        if record is not None and transport is not None:
            peer = transport.get_extra_info("peername")
            record["address"] = str(peer[0]) if peer else None
            ssl_object = transport.get_extra_info("ssl_object")
            record["der"] = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        return conn


@functools.lru_cache(maxsize=16)
def shared_ssl_context(ca_bundle: str | None, verify: bool) -> ssl.SSLContext:
    """One context per process and kind: building one loads the CA store (~38 ms here),
    which per batch was an eighth of the checks worker's CPU (measured by make bench)."""
    context = ssl.create_default_context(cafile=ca_bundle)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@dataclass
class ProbeContext:
    """Resources shared by every probe of one :func:`run_probes` call."""

    allow_cidrs: Sequence[str]
    concurrency: int = 500
    _session: aiohttp.ClientSession | None = None
    _pingers: dict[int, Pinger] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Per-run objects a probe module builds once (e.g. the system DNS resolver).
    cache: dict[str, Any] = field(default_factory=dict)

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = RecordingConnector(
                limit=self.concurrency,
                limit_per_host=0,
                # Cache forever within this run: the checked answer is the one every
                # connection to that name uses, so a rebinding DNS server gets one shot.
                ttl_dns_cache=None,
                resolver=GuardedResolver(self.allow_cidrs),
                ssl=True,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                # Never pick up HTTP(S)_PROXY from the worker's environment: the proxy
                # would do the resolving, past the egress guard.
                trust_env=False,
                auto_decompress=True,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    def ssl_context(self, ca_bundle: str | None, verify: bool) -> ssl.SSLContext:
        return shared_ssl_context(ca_bundle, verify)

    async def pinger(self, family: int) -> Pinger:
        async with self._lock:
            pinger = self._pingers.get(family)
            if pinger is None:
                from monitors.probes.icmp import Pinger

                pinger = Pinger.open(family)
                self._pingers[family] = pinger
            return pinger

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        for pinger in self._pingers.values():
            pinger.close()
        self._pingers.clear()
