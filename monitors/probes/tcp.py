"""TCP probe: connect to host:port (every address passes the egress guard), then
optionally send a line and wait for an expected string in the reply."""

from __future__ import annotations

import asyncio
import time

from monitors.config import split_host_port
from monitors.probes.base import (
    ProbeContext,
    ProbeResult,
    ProbeSpec,
    Verdict,
    failed,
    format_seconds,
    os_error_text,
    timed_out,
)
from pulse.egress import EgressDenied, resolve_checked

MAX_READ = 64 * 1024


def _preview(data: bytes) -> str:
    text = data[:60].decode("utf-8", errors="replace")
    return repr(text) + ("..." if len(data) > 60 else "")


async def probe_tcp(spec: ProbeSpec, ctx: ProbeContext) -> ProbeResult:
    host, port = split_host_port(spec.target)
    send: str = spec.config.get("send") or ""
    expect: str = spec.config.get("expect") or ""
    received = bytearray()
    waiting = False
    writer: asyncio.StreamWriter | None = None
    details: dict[str, object] = {}
    start = time.perf_counter()
    try:
        async with asyncio.timeout(spec.timeout):
            addresses = await resolve_checked(host, port, allow_cidrs=ctx.allow_cidrs)
            details["addresses"] = [ip for _family, ip in addresses]
            last_error: OSError | None = None
            for _family, ip in addresses:
                try:
                    reader, writer = await asyncio.open_connection(ip, port)
                except OSError as exc:
                    last_error = exc
                    continue
                details["address"] = ip
                break
            if writer is None:
                return failed(os_error_text(last_error), details=details)
            details["connect_ms"] = round((time.perf_counter() - start) * 1000, 3)
            if send:
                writer.write(send.encode())
                await writer.drain()
            if expect:
                waiting = True
                wanted = expect.encode()
                while wanted not in received and len(received) < MAX_READ:
                    chunk = await reader.read(4096)
                    if not chunk:
                        break
                    received += chunk
                waiting = False
    except TimeoutError:
        if waiting and received:
            return failed(
                f"expected {expect!r} not received within {format_seconds(spec.timeout)} s"
                f" (got {_preview(bytes(received))})",
                details=details,
            )
        what = f"waiting for {expect!r}" if waiting else "connecting"
        return failed(timed_out(spec.timeout, what), details=details)
    except EgressDenied as exc:
        return failed(str(exc))
    except OSError as exc:
        return failed(os_error_text(exc), details=details)
    finally:
        if writer is not None:
            # abort, not close: a peer that never reads must not hold the probe open.
            writer.transport.abort()

    latency_ms = (time.perf_counter() - start) * 1000
    verdict = Verdict()
    if expect and expect.encode() not in received:
        got = f" (got {_preview(bytes(received))})" if received else " (connection closed)"
        verdict.fail(f"expected {expect!r} not received{got}")
    if expect:
        details["received_bytes"] = len(received)
    return verdict.result(spec, latency_ms=latency_ms, details=details)
