"""Monitor screens: list (filter, search, bulk pause/resume), detail (uptime, charts,
checks, transitions, incidents), create/edit/delete, pause/resume.

Each view serves its page or, for an HTMX request aimed at one of the page's live
regions (``HX-Target``), just that fragment. Charts are SVG geometry computed here
and drawn by the templates with classes only (no colours in markup, INV-12).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import Perm, require, role_has
from accounts.views import actor_for, org_required, role_of
from alerting.models import MonitorTransition
from incidents.selectors import incident_list
from monitors import selectors, services
from monitors.forms import MonitorForm
from monitors.models import Grain, Monitor, MonitorStatus, MonitorType, bucket_start

PAGE_SIZE = 50
MAX_SEARCH = 200
BAR_RANGES = {"24h": 24, "7d": 24 * 7}
# Types whose checks measure a response time (push and metric checks do not).
TIMED_TYPES = {MonitorType.HTTP, MonitorType.TCP, MonitorType.ICMP, MonitorType.DNS}


# ------------------------------------------------------------------ helpers


def fragment_target(request: HttpRequest) -> str | None:
    """The id of the live region an HTMX request asks to refresh, if any. A history
    restore (back button after a cache miss) wants the whole page."""
    htmx = getattr(request, "htmx", None)
    if not htmx or htmx.history_restore_request:
        return None
    return str(htmx.target) if htmx.target else None


def respond(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    response = render(request, template, context, status=status)
    # Same URL, page or fragment: caches must key on the HTMX headers too.
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def _monitor_for(request: HttpRequest, monitor_id: uuid.UUID) -> Monitor:
    """The one scoped getter: another org's id and a missing id are the same 404."""
    try:
        return selectors.monitor_get(monitor_id=monitor_id)
    except Monitor.DoesNotExist as exc:
        raise Http404("No such monitor.") from exc


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def format_percent(value: float | None) -> str:
    """Uptime as shown: "—" for no data (unknown is not 100 %), else two decimals
    rounded down, so 99.996 % never reads as 100 %."""
    if value is None:
        return "—"
    if value >= 100:
        return "100%"
    return f"{math.floor(value * 100) / 100:.2f}%"


def format_ms(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    if value < 10:
        return f"{value:.1f} ms"
    return f"{value:.0f} ms"


# ------------------------------------------------------------------- charts

SPARK_W, SPARK_H, SPARK_PAD = 120.0, 28.0, 2.0
CHART_W, CHART_H = 1000.0, 200.0
CHART_SLOT = timedelta(minutes=5)


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def sparkline(values: list[float | None]) -> dict[str, Any] | None:
    """Path data for a latency sparkline (oldest first, evenly spaced), or None
    without data. Scaled to the series' own range: it shows the trend."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if not points:
        return None
    low = min(v for _, v in points)
    high = max(v for _, v in points)
    span = high - low
    last_index = max(len(values) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        ratio = 0.5 if span == 0 else (v - low) / span
        return i / last_index * SPARK_W, SPARK_H - SPARK_PAD - ratio * (SPARK_H - 2 * SPARK_PAD)

    coords = [xy(i, v) for i, v in points]
    if len(coords) == 1:
        coords = [(0.0, coords[0][1]), (SPARK_W, coords[0][1])]
    line = "M" + " L".join(f"{_f(x)} {_f(y)}" for x, y in coords)
    area = f"M{_f(coords[0][0])} {_f(SPARK_H)} L" + " L".join(f"{_f(x)} {_f(y)}" for x, y in coords)
    area += f" L{_f(coords[-1][0])} {_f(SPARK_H)} Z"
    return {"line": line, "area": area, "min": low, "max": high, "points": len(points)}


def _nice_ceiling(value: float) -> float:
    if value <= 0:
        return 10.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * exponent >= value:
            return float(step * exponent)
    return float(10 * exponent)


@dataclass(frozen=True)
class LatencyChart:
    line: str
    area: str
    threshold_y: str | None
    threshold_label: str
    y_labels: list[str]
    x_labels: list[datetime]
    avg: str
    high: str
    low: str
    has_data: bool
    width: str = _f(CHART_W)
    height: str = _f(CHART_H)


def latency_chart(monitor: Monitor, now: datetime) -> LatencyChart:
    """Average latency per 5 minutes over 24 h from the minute rollups, with gaps
    where no check ran and the degraded threshold as a dashed line."""
    start = bucket_start(now, Grain.MINUTE) - timedelta(hours=24)
    slots = int(timedelta(hours=24) / CHART_SLOT)
    sums: dict[int, list[float]] = {}
    highs: list[float] = []
    lows: list[float] = []
    for bucket in selectors.buckets(monitor.id, grain=Grain.MINUTE, since=start):
        if bucket.latency_avg is None:
            continue
        slot = min(int((bucket.start - start) / CHART_SLOT), slots - 1)
        checks = max(bucket.checks, 1)
        acc = sums.setdefault(slot, [0.0, 0.0])
        acc[0] += bucket.latency_avg * checks
        acc[1] += checks
        highs.append(bucket.latency_max if bucket.latency_max is not None else bucket.latency_avg)
        # Fastest and slowest single checks, not per-minute averages.
        lows.append(bucket.latency_min if bucket.latency_min is not None else bucket.latency_avg)
    points = sorted((slot, acc[0] / acc[1]) for slot, acc in sums.items())
    threshold = monitor.latency_degraded_ms
    top = _nice_ceiling(max([v for _, v in points] + [threshold or 0]) * 1.1)

    def x(slot: int) -> float:
        return slot / (slots - 1) * CHART_W

    def y(value: float) -> float:
        return CHART_H - min(value / top, 1.0) * CHART_H

    # A gap longer than the check interval (plus one slot) breaks the line.
    max_gap = math.ceil(monitor.interval_seconds / CHART_SLOT.total_seconds()) + 1
    segments: list[list[tuple[int, float]]] = []
    for slot, value in points:
        if segments and slot - segments[-1][-1][0] <= max_gap:
            segments[-1].append((slot, value))
        else:
            segments.append([(slot, value)])
    line, area = [], []
    for segment in segments:
        coords = [(x(s), y(v)) for s, v in segment]
        if len(coords) == 1:
            cx, cy = coords[0]
            coords = [(max(cx - 2, 0), cy), (min(cx + 2, CHART_W), cy)]
        line.append("M" + " L".join(f"{_f(px)} {_f(py)}" for px, py in coords))
        area.append(
            f"M{_f(coords[0][0])} {_f(CHART_H)} L"
            + " L".join(f"{_f(px)} {_f(py)}" for px, py in coords)
            + f" L{_f(coords[-1][0])} {_f(CHART_H)} Z"
        )
    latency_total = sum(acc[0] for acc in sums.values())
    checks_total = sum(acc[1] for acc in sums.values())
    return LatencyChart(
        line=" ".join(line),
        area=" ".join(area),
        threshold_y=_f(y(threshold)) if threshold else None,
        threshold_label=format_ms(threshold) if threshold else "",
        y_labels=[format_ms(top), format_ms(top / 2), "0 ms"],
        x_labels=[start + timedelta(hours=h) for h in (0, 6, 12, 18, 24)],
        avg=format_ms(latency_total / checks_total if checks_total else None),
        high=format_ms(max(highs) if highs else None),
        low=format_ms(min(lows) if lows else None),
        has_data=bool(points),
    )


@dataclass(frozen=True)
class UptimeCell:
    start: datetime
    state: str
    label: str


def uptime_bar(monitor: Monitor, hours: int, now: datetime) -> dict[str, Any]:
    """One cell per hour, oldest first, each labelled with its time and uptime."""
    first = bucket_start(now, Grain.HOUR) - timedelta(hours=hours - 1)
    found = {b.start: b for b in selectors.buckets(monitor.id, grain=Grain.HOUR, since=first)}
    cells: list[UptimeCell] = []
    checks = failures = 0
    for index in range(hours):
        start = first + timedelta(hours=index)
        bucket = found.get(start)
        end = start + timedelta(hours=1)
        when = f"{start:%b} {start.day}, {start:%H}:00\u2013{end:%H}:00 UTC"
        if bucket is None or not bucket.checks:
            cells.append(UptimeCell(start, "empty", f"{when}: no data"))
            continue
        checks += bucket.checks
        failures += bucket.failures
        percent = format_percent(100.0 * (bucket.checks - bucket.failures) / bucket.checks)
        detail = f"{percent} up, {bucket.checks} checks"
        if bucket.slow:
            detail += f", {bucket.slow} slow"
        cells.append(UptimeCell(start, bucket.state, f"{when}: {detail}"))
    overall = 100.0 * (checks - failures) / checks if checks else None
    return {"cells": cells, "percent": format_percent(overall), "first": first, "hours": hours}


# -------------------------------------------------------------------- list


def _list_filters(request: HttpRequest) -> dict[str, str | None]:
    status = request.GET.get("status") or None
    kind = request.GET.get("type") or None
    tag = (request.GET.get("tag") or "").strip().lower() or None
    search = (request.GET.get("q") or "").strip()[:MAX_SEARCH] or None
    return {
        "status": status if status in MonitorStatus.values else None,
        "type": kind if kind in MonitorType.values else None,
        "tag": tag,
        "search": search,
    }


@org_required
@require_GET
def monitor_list(request: HttpRequest) -> HttpResponse:
    filters = _list_filters(request)
    page = Paginator(selectors.monitor_list(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    monitors = list(page.object_list)
    uptimes = selectors.uptime([m.id for m in monitors], selectors.UPTIME_WINDOWS["24h"])
    for monitor in monitors:
        monitor.uptime_24h = format_percent(uptimes[monitor.id].percent)  # type: ignore[attr-defined]
    filtered = any(filters.values())
    context: dict[str, Any] = {
        "nav_active": "monitors",
        "page": page,
        "monitors": monitors,
        "filters": filters,
        "filtered": filtered,
        # Only an empty result needs to know whether the org has any monitors at all.
        "has_any": bool(monitors) or (filtered and selectors.monitor_list().exists()),
        "can_operate": role_has(role_of(request), Perm.MONITOR_OPERATE),
        "can_write": role_has(role_of(request), Perm.MONITOR_WRITE),
    }
    if fragment_target(request) == "monitor-table":
        return respond(request, "monitors/_table.html", context)
    context.update(
        {
            "status_choices": MonitorStatus.choices,
            "type_choices": MonitorType.choices,
            "tags": selectors.all_tags(),
        }
    )
    return respond(request, "monitors/list.html", context)


@require_POST
@org_required
def monitor_bulk(request: HttpRequest) -> HttpResponse:
    """Pause or resume the ticked monitors. Ids of other orgs match nothing (the
    tenant manager), exactly like ids that never existed."""
    require(role_of(request), Perm.MONITOR_OPERATE)
    back = _next_url(request, reverse("monitors:list"))
    action = request.POST.get("action")
    if action not in ("pause", "resume"):
        messages.error(request, "Choose pause or resume.")
        return redirect(back)
    ids: list[uuid.UUID] = []
    for raw in request.POST.getlist("ids"):
        try:
            ids.append(uuid.UUID(raw))
        except ValueError:
            continue
    if not ids:
        messages.warning(request, "Tick at least one monitor first.")
        return redirect(back)
    actor = actor_for(request)
    changed = 0
    for monitor in selectors.monitor_list().filter(id__in=ids):
        if action == "pause" and not monitor.paused:
            services.monitor_pause(actor=actor, monitor=monitor)
            changed += 1
        elif action == "resume" and monitor.paused:
            services.monitor_resume(actor=actor, monitor=monitor)
            changed += 1
    verb = "Paused" if action == "pause" else "Resumed"
    messages.success(request, f"{verb} {changed} monitor{'s' if changed != 1 else ''}.")
    return redirect(back)


# ------------------------------------------------------------------ detail


def _detail_context(request: HttpRequest, monitor: Monitor) -> dict[str, Any]:
    now = timezone.now()
    bar_range = request.GET.get("bar") or "24h"
    if bar_range not in BAR_RANGES:
        bar_range = "24h"
    uptime = selectors.uptime_summary(monitor)
    return {
        "nav_active": "monitors",
        "monitor": monitor,
        "timed": monitor.type in TIMED_TYPES,
        "uptime": [(label, format_percent(uptime[key])) for key, label in UPTIME_LABELS],
        "chart": latency_chart(monitor, now) if monitor.type in TIMED_TYPES else None,
        "bar": uptime_bar(monitor, BAR_RANGES[bar_range], now),
        "bar_range": bar_range,
        "checks": selectors.recent_checks(monitor.id, limit=25),
        "transitions": list(MonitorTransition.objects.filter(monitor=monitor).order_by("-ts")[:20]),
        "can_operate": role_has(role_of(request), Perm.MONITOR_OPERATE),
        "can_write": role_has(role_of(request), Perm.MONITOR_WRITE),
    }


UPTIME_LABELS = (("24h", "Uptime 24 h"), ("7d", "Uptime 7 days"), ("30d", "Uptime 30 days"))


def _heartbeat_urls(monitor: Monitor) -> dict[str, str] | None:
    if monitor.type != MonitorType.PUSH:
        return None
    base = settings.PUBLIC_URL
    token = monitor.heartbeat_token
    return {
        "ping": base + reverse("ingest_heartbeat", args=[token]),
        "start": base + reverse("ingest_heartbeat_start", args=[token]),
        "fail": base + reverse("ingest_heartbeat_fail", args=[token]),
    }


@org_required
@require_GET
def monitor_detail(request: HttpRequest, monitor_id: uuid.UUID) -> HttpResponse:
    monitor = _monitor_for(request, monitor_id)
    target = fragment_target(request)
    if target == "monitor-incidents":
        return respond(
            request,
            "monitors/_incidents.html",
            {"monitor": monitor, "incidents": incident_list().filter(monitor=monitor)[:10]},
        )
    context = _detail_context(request, monitor)
    if target == "monitor-live":
        return respond(request, "monitors/_detail_live.html", context)
    context.update(
        {
            "incidents": incident_list().filter(monitor=monitor)[:10],
            "heartbeat": _heartbeat_urls(monitor),
        }
    )
    return respond(request, "monitors/detail.html", context)


@require_POST
@org_required
def monitor_pause(request: HttpRequest, monitor_id: uuid.UUID) -> HttpResponse:
    monitor = _monitor_for(request, monitor_id)
    require(role_of(request), Perm.MONITOR_OPERATE)
    services.monitor_pause(actor=actor_for(request), monitor=monitor)
    messages.success(request, f"Paused {monitor.name}: no checks, no alerts until resumed.")
    return redirect(_next_url(request, reverse("monitors:detail", args=[monitor.id])))


@require_POST
@org_required
def monitor_resume(request: HttpRequest, monitor_id: uuid.UUID) -> HttpResponse:
    monitor = _monitor_for(request, monitor_id)
    require(role_of(request), Perm.MONITOR_OPERATE)
    services.monitor_resume(actor=actor_for(request), monitor=monitor)
    messages.success(request, f"Resumed {monitor.name}: the next check runs within seconds.")
    return redirect(_next_url(request, reverse("monitors:detail", args=[monitor.id])))


@require_POST
@org_required
def monitor_regenerate_token(request: HttpRequest, monitor_id: uuid.UUID) -> HttpResponse:
    monitor = _monitor_for(request, monitor_id)
    require(role_of(request), Perm.MONITOR_WRITE)
    try:
        services.monitor_regenerate_token(actor=actor_for(request), monitor=monitor)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "New heartbeat URL made. Update your jobs: the old one stops.")
    return redirect("monitors:detail", monitor.id)


# -------------------------------------------------------------- create/edit


def _form_page(
    request: HttpRequest, form: MonitorForm, monitor: Monitor | None, status: int = 200
) -> HttpResponse:
    context = {"nav_active": "monitors", "form": form, "monitor": monitor}
    if fragment_target(request) == "type-fields":
        return respond(request, "monitors/_type_fields.html", context, status=status)
    return respond(request, "monitors/form.html", context, status=status)


@org_required
@require_http_methods(["GET", "POST"])
def monitor_create(request: HttpRequest) -> HttpResponse:
    require(role_of(request), Perm.MONITOR_WRITE)
    if request.method == "GET":
        kind = request.GET.get("type")
        initial = {"type": kind if kind in MonitorType.values else MonitorType.HTTP.value}
        return _form_page(request, MonitorForm(initial=initial), None)
    if "refresh" in request.POST:
        # No-JS type switch: show the chosen type's inputs, keep what was typed.
        return _form_page(request, MonitorForm(initial=request.POST.dict()), None)
    form = MonitorForm(request.POST)
    if form.is_valid():
        try:
            monitor = services.monitor_create(actor=actor_for(request), data=form.service_data())
        except ValidationError as exc:
            form.apply_errors(exc)
        else:
            messages.success(request, f"{monitor.name} created. Its first check runs shortly.")
            return redirect("monitors:detail", monitor.id)
    return _form_page(request, form, None, status=400)


@org_required
@require_http_methods(["GET", "POST"])
def monitor_edit(request: HttpRequest, monitor_id: uuid.UUID) -> HttpResponse:
    monitor = _monitor_for(request, monitor_id)
    require(role_of(request), Perm.MONITOR_WRITE)
    form = MonitorForm(request.POST or None, monitor=monitor)
    if request.method == "POST":
        if form.is_valid():
            try:
                monitor = services.monitor_update(
                    actor=actor_for(request), monitor=monitor, data=form.service_data()
                )
            except ValidationError as exc:
                form.apply_errors(exc)
            else:
                messages.success(request, f"Saved {monitor.name}.")
                return redirect("monitors:detail", monitor.id)
        return _form_page(request, form, monitor, status=400)
    return _form_page(request, form, monitor)


@require_POST
@org_required
def monitor_delete(request: HttpRequest, monitor_id: uuid.UUID) -> HttpResponse:
    monitor = _monitor_for(request, monitor_id)
    require(role_of(request), Perm.MONITOR_WRITE)
    name = monitor.name
    services.monitor_delete(actor=actor_for(request), monitor=monitor)
    messages.success(request, f"Deleted {name} and its history.")
    return redirect("monitors:list")
