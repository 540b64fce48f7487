"""Prometheus metrics (SPEC §12) at /metrics.

Fleet-wide figures (monitors, incidents, outbox depth, scheduler lag, checks) are read
from the database at scrape time, so they are right however many web and worker
processes run; per-process HTTP counters come from the middleware below. In
production the endpoint needs ``Authorization: Bearer <PULSE_METRICS_TOKEN>`` and is
off without a token.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Min, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

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
        worst=Max("latency_max"),
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
    duration = CounterMetricFamily(
        "monitor_check_duration_milliseconds", "Probe latency, sum and count", labels=["stat"]
    )
    duration.add_metric(["sum"], totals["latency"] or 0.0)
    duration.add_metric(["count"], totals["timed"] or 0)
    yield duration
    sockets = GaugeMetricFamily("websocket_connections", "Open dashboard WebSockets")
    sockets.add_metric([], max(0, int(cache.get(WS_KEY) or 0)))
    yield sockets


WS_KEY = "metrics:websocket_connections"


def websocket_opened() -> None:
    """Called by the WebSocket consumer; a Redis counter spans every web process."""
    cache.add(WS_KEY, 0, timeout=None)
    cache.incr(WS_KEY)


def websocket_closed() -> None:
    try:
        cache.decr(WS_KEY)
    except ValueError:  # the key was flushed meanwhile
        cache.set(WS_KEY, 0, timeout=None)


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
