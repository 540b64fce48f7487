"""Runs a batch of probes concurrently and never raises: every failure, even a bug
in a probe, becomes a FAIL result, so one bad monitor cannot sink its batch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from django.conf import settings

from monitors.probes.base import ProbeContext, ProbeResult, ProbeSpec, failed, timed_out
from monitors.probes.dns import probe_dns
from monitors.probes.http import probe_http
from monitors.probes.icmp import probe_icmp
from monitors.probes.tcp import probe_tcp
from pulse.egress import EgressDenied
from pulse.logging import get_logger

log = get_logger(__name__)

Probe = Callable[[ProbeSpec, ProbeContext], Awaitable[ProbeResult]]

PROBES: dict[str, Probe] = {
    "http": probe_http,
    "tcp": probe_tcp,
    "icmp": probe_icmp,
    "dns": probe_dns,
}
NOT_PROBED = ("push", "metric")
# Each probe enforces spec.timeout itself and reports what it was waiting for; this
# margin is only the backstop for a probe that overruns its own deadline.
BACKSTOP_MARGIN = 1.0
# A start time further ahead than this is a caller bug or clock skew, not a plan.
MAX_START_DELAY = 60.0


async def _run_one(
    spec: ProbeSpec, ctx: ProbeContext, limit: asyncio.Semaphore, start_at: float | None
) -> ProbeResult:
    if start_at is not None:
        delay = min(start_at - time.time(), MAX_START_DELAY)
        if delay > 0:
            await asyncio.sleep(delay)
    async with limit:
        probe = PROBES.get(spec.type)
        if probe is None:
            if spec.type in NOT_PROBED:
                return failed(f"{spec.type} monitors are evaluated from received data, not probed")
            return failed(f"unknown monitor type {spec.type!r}")
        try:
            async with asyncio.timeout(spec.timeout + BACKSTOP_MARGIN):
                return await probe(spec, ctx)
        except TimeoutError:
            return failed(timed_out(spec.timeout))
        except EgressDenied as exc:
            return failed(str(exc))
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            # A library cancelled something internally and let it escape: that is
            # this probe's failure, not a reason to cancel the whole batch.
            return failed("probe was cancelled")
        except Exception as exc:
            log.warning(
                "probe.crashed",
                monitor_id=str(spec.monitor_id),
                probe_type=spec.type,
                exc_info=True,
            )
            return failed(f"probe error: {type(exc).__name__}: {exc}")


async def run_probes(
    specs: Sequence[ProbeSpec],
    *,
    concurrency: int = 500,
    allow_cidrs: Sequence[str] | None = None,
    start_at: Sequence[float] | None = None,
    on_result: Callable[[int, ProbeResult], None] | None = None,
) -> list[ProbeResult]:
    """Run every spec concurrently (at most ``concurrency`` at a time) and return
    the results in input order.

    ``on_result(index, result)`` is called in the loop as each probe finishes, so a
    caller can record fast results without waiting for the batch's slowest probe.

    ``start_at``: one Unix timestamp per spec; a probe does not start before it
    (at most MAX_START_DELAY ahead), so a batch claimed early still probes each
    monitor at its due time. Waiting is not part of the probe's latency or timeout.
    ``allow_cidrs`` overrides ``settings.EGRESS_ALLOW_CIDRS`` (tests).
    """
    if start_at is not None and len(start_at) != len(specs):
        raise ValueError(f"start_at has {len(start_at)} entries for {len(specs)} specs")
    if not specs:
        return []
    if allow_cidrs is None:
        allow_cidrs = list(getattr(settings, "EGRESS_ALLOW_CIDRS", []))
    ctx = ProbeContext(allow_cidrs=tuple(allow_cidrs), concurrency=concurrency)
    limit = asyncio.Semaphore(concurrency)

    async def one(index: int, spec: ProbeSpec, at: float | None) -> ProbeResult:
        result = await _run_one(spec, ctx, limit, at)
        if on_result is not None:
            on_result(index, result)
        return result

    try:
        starts = start_at if start_at is not None else [None] * len(specs)
        return list(
            await asyncio.gather(
                *(one(i, spec, at) for i, (spec, at) in enumerate(zip(specs, starts, strict=True)))
            )
        )
    finally:
        await ctx.close()


def run_probes_sync(
    specs: Sequence[ProbeSpec],
    *,
    concurrency: int = 500,
    allow_cidrs: Sequence[str] | None = None,
    start_at: Sequence[float] | None = None,
    on_result: Callable[[int, ProbeResult], None] | None = None,
) -> list[ProbeResult]:
    """Blocking entry point for Celery tasks. Must not be called from a thread that
    already runs an event loop."""
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    return asyncio.run(
        run_probes(
            specs,
            concurrency=concurrency,
            allow_cidrs=allow_cidrs,
            start_at=start_at,
            on_result=on_result,
        ),
        loop_factory=loop_factory,
    )
