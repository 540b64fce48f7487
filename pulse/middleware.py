"""Request id and tenant context for every request."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from pulse import tenancy
from pulse.requestctx import RequestMeta, new_request_id, reset_request_meta, set_request_meta

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in proxies)


def _ip(text: str | None) -> IPAddress | None:
    try:
        return ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None


def _trusted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address in network for network in networks)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, for rate limits, sessions and the audit log.

    The forwarding headers are the client's own words unless the peer is one of
    settings.TRUSTED_PROXIES: only then does X-Real-IP (which our nginx sets from its
    socket) or, failing that, the right-most X-Forwarded-For entry that is not itself
    a trusted proxy, name the client. Anything that is not an IP address is ignored,
    so a header never reaches an ``inet`` column as garbage.
    """
    peer = _ip(request.META.get("REMOTE_ADDR"))
    if peer is None:
        return None
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    if not _trusted(peer, networks):
        return str(peer)
    real = _ip(request.META.get("HTTP_X_REAL_IP"))
    if real is not None:
        return str(real)
    hops = [_ip(hop) for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for hop in reversed(hops):
        if hop is None:
            break  # a malformed entry: what lies left of it cannot be trusted either
        if not _trusted(hop, networks):
            return str(hop)
    return str(peer)


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
