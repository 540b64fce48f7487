"""Request id and tenant context for every request."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from django.http import HttpRequest, HttpResponse

from pulse import tenancy
from pulse.requestctx import RequestMeta, new_request_id, reset_request_meta, set_request_meta


def client_ip(request: HttpRequest) -> str | None:
    # Behind nginx, REMOTE_ADDR is the proxy; nginx sets X-Real-IP from the client
    # socket (never trusts the client's own header), so it is safe to prefer.
    return request.META.get("HTTP_X_REAL_IP") or request.META.get("REMOTE_ADDR") or None


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = new_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id  # type: ignore[attr-defined]
        token = set_request_meta(RequestMeta(request_id=request_id, ip=client_ip(request)))
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            response = self.get_response(request)
        finally:
            structlog.contextvars.unbind_contextvars("request_id", "org_id")
            reset_request_meta(token)
        response["X-Request-ID"] = request_id
        return response


class TenantMiddleware:
    """Resolve the active org from the session (API keys do it in DRF authentication)
    and run the rest of the request inside that tenant context."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from accounts.selectors import resolve_active_membership

        membership = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            with tenancy.org_context(None, user_id=user.pk):
                membership = resolve_active_membership(request)
        request.membership = membership  # type: ignore[attr-defined]
        request.org = membership.org if membership else None  # type: ignore[attr-defined]
        org_id = membership.org_id if membership else None
        user_id = user.pk if user is not None and user.is_authenticated else None
        tokens = tenancy.set_request_context(org_id, user_id)
        if org_id:
            structlog.contextvars.bind_contextvars(org_id=str(org_id))
        try:
            return self.get_response(request)
        finally:
            tenancy.reset_request_context(tokens)
