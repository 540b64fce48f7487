"""Prometheus metrics (SPEC §12) at /metrics.

Fleet-wide figures (monitors, incidents, outbox depth, scheduler lag, checks) are read
from the database at scrape time, so they are right however many web and worker
processes run; per-process HTTP counters come from the middleware below. In
production the endpoint needs ``Authorization: Bearer <PULSE_METRICS_TOKEN>`` and is
off without a token.

Two figures are kept in Redis because no single process sees them all:

* ``monitor_check_duration_milliseconds``: a histogram whose bucket counters every
  recording process (the checks workers) increments after commit;
* ``websocket_connections``: each web process publishes its own count of open sockets
  under a key that expires unless refreshed, so a process that dies (kill -9, OOM)
  drops out of the total within ``WS_TTL`` seconds instead of leaving it too high.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import redis
from django.conf import settings
from django.db.models import Count, Min, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from pulse.logging import get_logger

log = get_logger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)
HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests served", ["method", "status"], registry=REGISTRY
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP request duration",
    ["method"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def _fleet_metrics() -> Iterator[Metric]:
    from incidents.models import Incident, IncidentStatus
    from monitors.models import Monitor, UptimeRollup
    from notifications.models import Notification, NotificationStatus

    now = timezone.now()
    monitors = Monitor.all_orgs
    active = GaugeMetricFamily("active_monitors", "Enabled (not paused) monitors")
    active.add_metric([], monitors.filter(paused=False).count())
    yield active
    incidents = GaugeMetricFamily("active_incidents", "Unresolved incidents")
    incidents.add_metric([], Incident.all_orgs.exclude(status=IncidentStatus.RESOLVED).count())
    yield incidents
    # How far behind the oldest unclaimed due monitor is (0 when none is late).
    oldest = monitors.filter(
        paused=False, inflight_due_at__isnull=True, next_check_at__lte=now
    ).aggregate(m=Min("next_check_at"))["m"]
    lag = GaugeMetricFamily("scheduler_lag_seconds", "Age of the oldest unclaimed due check")
    lag.add_metric([], (now - oldest).total_seconds() if oldest else 0.0)
    yield lag
    outbox = GaugeMetricFamily("outbox_notifications", "Outbox rows by status", labels=["status"])
    counts = dict(Notification.all_orgs.values_list("status").annotate(n=Count("id")))
    for status in NotificationStatus.values:
        outbox.add_metric([status], counts.get(status, 0))
    yield outbox
    totals = UptimeRollup.all_orgs.filter(grain="h").aggregate(
        checks=Sum("checks"),
        failures=Sum("failures"),
        slow=Sum("slow"),
        latency=Sum("latency_sum"),
        timed=Sum("latency_count"),
    )
    checks = CounterMetricFamily("monitor_checks", "Checks recorded", labels=["outcome"])
    total, failures, slow = (
        (totals["checks"] or 0),
        (totals["failures"] or 0),
        (totals["slow"] or 0),
    )
    checks.add_metric(["ok"], total - failures - slow)
    checks.add_metric(["slow"], slow)
    checks.add_metric(["fail"], failures)
    yield checks
    yield from _redis_metrics()


def _redis_metrics() -> Iterator[Metric]:
    try:
        histogram = check_duration_histogram()
        sockets = websocket_connections()
    except redis.RedisError as exc:
        # The database figures above are still worth a scrape; these two are absent
        # (not zero) until Redis answers again.
        log.warning("metrics.redis_failed", error=str(exc))
        return
    yield histogram
    gauge = GaugeMetricFamily("websocket_connections", "Open dashboard WebSockets, all processes")
    gauge.add_metric([], sockets)
    yield gauge


_client: tuple[int, redis.Redis] | None = None


def _redis() -> redis.Redis:
    """One client per process (a forked Celery child must not share its parent's sockets)."""
    global _client
    if _client is None or _client[0] != os.getpid():
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
        )
        _client = (os.getpid(), client)
    return _client[1]


def _key(name: str) -> str:
    return f"pulse:{settings.PULSE_ENV}:metrics:{name}"


# ------------------------------------------------------------ check latency histogram

CHECK_MS_BUCKETS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)


def observe_check_durations(latencies_ms: Sequence[float | None]) -> None:
    """Count recorded probe latencies into the shared histogram: one pipeline per
    recorded chunk. Called after commit, so a rolled-back batch is never counted; a
    failure here never fails the recording."""
    timed = [float(ms) for ms in latencies_ms if ms is not None]
    if not timed:
        return
    fields: dict[str, int] = {}
    for ms in timed:
        le = next((str(b) for b in CHECK_MS_BUCKETS if ms <= b), "+Inf")
        fields[le] = fields.get(le, 0) + 1
    key = _key("check_ms")
    try:
        pipe = _redis().pipeline(transaction=True)  # MULTI: a scrape sees all or none
        for le, n in fields.items():
            pipe.hincrby(key, le, n)
        pipe.hincrby(key, "count", len(timed))
        pipe.hincrbyfloat(key, "sum", sum(timed))
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("metrics.observe_failed", error=str(exc))


def check_duration_histogram() -> HistogramMetricFamily:
    raw: dict[bytes, bytes] = _redis().hgetall(_key("check_ms"))  # type: ignore[assignment]
    stored = {k.decode(): v.decode() for k, v in raw.items()}
    buckets: list[tuple[str, float]] = []
    running = 0
    for le in (*map(str, CHECK_MS_BUCKETS), "+Inf"):
        running += int(stored.get(le, 0))
        buckets.append((le, float(running)))
    return HistogramMetricFamily(
        "monitor_check_duration_milliseconds",
        "Probe latency of recorded checks",
        buckets=buckets,
        sum_value=float(stored.get("sum", 0)),
    )


# ------------------------------------------------------------------- open WebSockets

WS_TTL = 30  # seconds a process's published count outlives its last refresh
WS_REFRESH = 10  # how often a process with open sockets refreshes it


class SocketGauge:
    """Open org sockets in this process, published to Redis for the fleet total.

    Each process writes its own absolute count (never INCR/DECR on a shared counter,
    which a crashed process would leave too high forever) under a key with a TTL, and
    refreshes it every ``WS_REFRESH`` s while it has sockets open. The scrape sums the
    keys that still exist; a dead process's key expires after ``WS_TTL`` s.
    """

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._refresher: asyncio.Task[None] | None = None
        self._ident: tuple[int, str] | None = None

    def count(self) -> int:
        return self._count

    def _process_id(self) -> str:
        pid = os.getpid()
        if self._ident is None or self._ident[0] != pid:
            self._ident = (pid, f"{socket.gethostname()}:{pid}:{secrets.token_hex(4)}")
        return self._ident[1]

    async def opened(self) -> None:
        await self._change(+1)
        refresher = self._refresher
        if refresher is None or refresher.done():
            self._refresher = asyncio.get_running_loop().create_task(self._refresh())

    async def closed(self) -> None:
        await self._change(-1)

    async def _change(self, delta: int) -> None:
        with self._lock:
            self._count += delta
        await asyncio.to_thread(self.publish)

    async def _refresh(self) -> None:
        while self._count > 0:
            await asyncio.sleep(WS_REFRESH)
            await asyncio.to_thread(self.publish)

    def publish(self) -> None:
        """Write this process's current count. Serialised, and reading the count inside
        the lock: two writes racing from the thread pool cannot leave an older figure
        last."""
        proc = self._process_id()
        try:
            with self._write_lock:
                pipe = _redis().pipeline(transaction=True)
                pipe.set(_key(f"ws:{proc}"), self._count, ex=WS_TTL)
                pipe.sadd(_key("ws:procs"), proc)
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("metrics.ws_publish_failed", error=str(exc))


SOCKETS = SocketGauge()


# Sum the live processes' counts and forget the expired ones in one atomic step: a
# process that re-publishes between a read and a prune would otherwise be dropped.
_SUM_SOCKETS = """
local total = 0
for _, proc in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    local n = redis.call('GET', ARGV[1] .. proc)
    if n then total = total + math.max(0, tonumber(n)) else redis.call('SREM', KEYS[1], proc) end
end
return total
"""


def websocket_connections() -> int:
    """Open sockets across every web process whose published count has not expired."""
    script = _redis().register_script(_SUM_SOCKETS)
    return int(script(keys=[_key("ws:procs")], args=[_key("ws:")]))


class FleetCollector(Collector):
    def describe(self) -> list[Metric]:
        # Without this, registering calls collect() (database queries at import time).
        return []

    def collect(self) -> Iterator[Metric]:
        yield from _fleet_metrics()


REGISTRY.register(FleetCollector())


def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise Http404
    elif settings.IS_PROD:
        raise Http404  # off in production until a token is configured
    return HttpResponse(generate_latest(REGISTRY), content_type="text/plain; version=0.0.4")


class MetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        HTTP_DURATION.labels(request.method).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(request.method, str(response.status_code)).inc()
        return response
