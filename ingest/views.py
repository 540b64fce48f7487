"""Push endpoints — heartbeat pings (no key; the token is the secret), which validate,
store and answer fast (SPEC §9, STYLE "ingest endpoints") — and the hosts & metrics
screen (SPEC §10 #13)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from accounts.views import org_required
from ingest import selectors
from ingest.models import Host
from monitors.metric_eval import describe, format_value
from pulse.db.checks import heartbeat_ping
from pulse.errors import problem_response


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def heartbeat(request: HttpRequest, token: str, kind: str = "ok") -> HttpResponse:
    if len(token) > 64:
        return problem_response(request, 404, "Unknown heartbeat token.")
    found = heartbeat_ping(token=token, kind=kind)
    if found is None:
        return problem_response(request, 404, "Unknown heartbeat token.")
    _, _, paused = found
    return JsonResponse({"ok": True, "paused": paused, "received": kind})


def get_host_for(request: HttpRequest, host_id: object) -> Host:
    """The current org's host; a foreign or missing id is the same 404."""
    try:
        return selectors.host_get(host_id=str(host_id))
    except (Host.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


@org_required
@require_GET
def hosts(request: HttpRequest) -> HttpResponse:
    return render(
        request, "ingest/hosts.html", {"nav_active": "hosts", "rows": selectors.host_list()}
    )


@org_required
@require_GET
def host_detail(request: HttpRequest, host_id: object) -> HttpResponse:
    host = get_host_for(request, host_id)
    range_key = request.GET.get("range", "1h")
    if range_key not in selectors.RANGES:
        range_key = "1h"
    metrics = selectors.host_metrics(host=host)
    only = request.GET.get("metric") or None
    if only is not None and only not in {m.name for m in metrics}:
        raise Http404
    monitors = selectors.metric_monitors(host=host)
    charts = selectors.host_charts(
        host=host, metrics=metrics, monitors=monitors, range_key=range_key, only=only
    )
    return render(
        request,
        "ingest/host_detail.html",
        {
            "nav_active": "hosts",
            "host": host,
            "metrics": [(m, format_value(m.last_value)) for m in metrics],
            "monitors": [(m, describe(m.config)) for m in monitors],
            "charts": charts,
            "range_key": range_key,
            "ranges": list(selectors.RANGES),
            "only": only,
        },
    )
