"""Inbound provider webhooks. They carry no session, no CSRF token and no org: the
provider's signature is the authentication, checked before any write (INV-4)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from notifications import inbound
from pulse.errors import problem_response


@csrf_exempt
@require_POST
def twilio_status_callback(request: HttpRequest) -> HttpResponse:
    # Twilio signs the URL it was given (PUBLIC_URL + our path), not what the proxy in
    # front of us rewrote the Host to, so the public URL is rebuilt from settings.
    url = settings.PUBLIC_URL + request.get_full_path()
    channels = inbound.twilio_verified_channels(
        url=url,
        params=request.POST,
        signature=request.headers.get("X-Twilio-Signature", ""),
    )
    if not channels:
        return problem_response(request, 403, "The Twilio signature is missing or invalid.")
    if not request.POST.get("MessageSid") and not request.POST.get("SmsSid"):
        return problem_response(request, 400, "MessageSid is required.")
    if not request.POST.get("MessageStatus") and not request.POST.get("SmsStatus"):
        return problem_response(request, 400, "MessageStatus is required.")
    inbound.twilio_record_status(channels=channels, params=request.POST)
    return HttpResponse(status=204)
