from __future__ import annotations

from typing import Any

from django.db.models import Case, IntegerField, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.permissions import Perm, role_has
from accounts.views import org_required, role_of
from incidents.models import IncidentStatus
from incidents.selectors import incident_list
from monitors import selectors
from monitors.views import fragment_target, respond, sparkline

GRID_LIMIT = 60
OPEN_INCIDENTS_LIMIT = 8
# Problems first: the grid is read top-left to bottom-right.
STATUS_RANK = ("down", "degraded", "pending", "maintenance", "up", "paused")


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "landing.html")


def _grid(request: HttpRequest) -> dict[str, Any]:
    rank = Case(
        *(When(status=s, then=Value(i)) for i, s in enumerate(STATUS_RANK)),
        default=Value(len(STATUS_RANK)),
        output_field=IntegerField(),
    )
    monitors = list(
        selectors.monitor_list().annotate(rank=rank).order_by("rank", "name", "id")[:GRID_LIMIT]
    )
    series = selectors.sparkline_series([m.id for m in monitors])
    for monitor in monitors:
        monitor.spark = sparkline(series[monitor.id])  # type: ignore[attr-defined]
    total = len(monitors) if len(monitors) < GRID_LIMIT else selectors.monitor_list().count()
    return {
        "monitors": monitors,
        "monitor_total": total,
        "can_write": role_has(role_of(request), Perm.MONITOR_WRITE),
    }


def _open_incidents() -> dict[str, Any]:
    open_incidents = incident_list().exclude(status=IncidentStatus.RESOLVED)
    shown = list(open_incidents[:OPEN_INCIDENTS_LIMIT])
    total = len(shown) if len(shown) < OPEN_INCIDENTS_LIMIT else open_incidents.count()
    return {"open_incidents": shown, "open_total": total}


@org_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """Status counts, the monitor grid with sparklines and the open incidents; each
    region refreshes itself when the org's socket says it changed."""
    target = fragment_target(request)
    if target == "monitor-grid":
        return respond(request, "includes/dashboard_grid.html", _grid(request))
    if target == "open-incidents":
        return respond(request, "includes/dashboard_incidents.html", _open_incidents())
    context = {
        "nav_active": "dashboard",
        "counts": selectors.status_counts(),
        **_grid(request),
        **_open_incidents(),
    }
    return respond(request, "dashboard.html", context)
