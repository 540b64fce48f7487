"""Push endpoints: heartbeat pings (no key; the token is the secret). They validate,
store and answer fast (SPEC §9, STYLE "ingest endpoints")."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

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
