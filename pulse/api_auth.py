"""API-key authentication and the shared base of every tenant /v1 view.

``Authorization: Bearer pulse_<prefix>_<secret>`` is looked up by its SHA-256 across
orgs (the org is unknown before the lookup); the key's org then becomes the tenant
context for the rest of the request, and its scopes become a role (``write`` → admin,
``read`` → viewer, ``ingest`` alone → no role: only the ingest endpoints, which check
the scope with ``IngestKey``).

DRF's settings import authentication classes while ``rest_framework.views`` is still
loading, so this module must not import DRF views (nor drf-spectacular); the base is a
plain mixin for that reason.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import structlog
from django.core.exceptions import RequestDataTooBig
from django.db import models
from django.http.response import HttpResponseBase
from django.utils.cache import add_never_cache_headers
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.schemas.inspectors import ViewInspector

from accounts.api_keys import api_key_for_token, api_key_touch, role_for_scopes
from accounts.audit import Actor
from accounts.models import ApiKey, ApiScope, Organization, User
from accounts.permissions import Perm
from pulse import tenancy
from pulse.api import Cursor, OrgMember, SessionAuthentication, membership_of
from pulse.api_input import refuse_body
from pulse.api_json import LimitedJSONParser, PayloadTooLarge
from pulse.api_throttle import OrgIpRateThrottle
from pulse.middleware import client_ip

if TYPE_CHECKING:
    from rest_framework.views import APIView

BEARER = "bearer"
INVALID_KEY = "Invalid, expired or revoked API key."


@dataclass(frozen=True)
class KeyPrincipal:
    """DRF's ``request.user`` for a key: authenticated, but not a person."""

    api_key: ApiKey
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_active: bool = True
    is_staff: bool = False
    pk: None = None

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"


@dataclass(frozen=True)
class KeyMembership:
    """What a session's ``Membership`` gives the permission checks, for a key."""

    org: Organization
    role: str | None
    api_key: ApiKey = field(repr=False)

    @property
    def org_id(self) -> uuid.UUID:
        return self.org.id


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[KeyPrincipal, ApiKey] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != BEARER.encode():
            return None  # not ours: the session may still authenticate the call
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the key as: Authorization: Bearer <key>.")
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(INVALID_KEY) from exc
        key = api_key_for_token(token)
        if key is None:
            raise exceptions.AuthenticationFailed(INVALID_KEY)
        membership = KeyMembership(org=key.org, role=role_for_scopes(key.scopes), api_key=key)
        django_request = request._request
        django_request.membership = membership  # type: ignore[attr-defined]
        django_request.org = key.org  # type: ignore[attr-defined]
        # TenantMiddleware restores the outer context when the request ends.
        tenancy.set_request_context(key.org_id, None)
        # RequestIdMiddleware unbinds org_id when the request ends.
        structlog.contextvars.bind_contextvars(org_id=str(key.org_id))
        api_key_touch(api_key=key, ip=client_ip(django_request))
        return KeyPrincipal(api_key=key), key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="pulse"'


class IngestKey(permissions.BasePermission):
    """For the ingest endpoints: an API key with the ``ingest`` scope."""

    message = "This endpoint needs an API key with the ingest scope."

    def has_permission(self, request: Request, view: APIView) -> bool:
        key = request.auth
        return isinstance(key, ApiKey) and ApiScope.INGEST in key.scopes


class _PulseSchema(ViewInspector):
    """The OpenAPI inspector, imported only when a schema is generated (it imports DRF
    views, which this module must not)."""

    def __get__(self, instance: Any, owner: Any) -> Any:
        if instance is not None and instance in self.instance_schemas:
            return self.instance_schemas[instance]  # set per action by @extend_schema
        from pulse.api_docs import PulseAutoSchema

        inspector = PulseAutoSchema()
        if instance is not None:
            inspector.view = instance
        return inspector


if TYPE_CHECKING:
    from rest_framework.viewsets import GenericViewSet

    _ViewSet = GenericViewSet
else:
    _ViewSet = object  # the real base comes second in each view's bases


def never_store[R: HttpResponseBase](response: R) -> R:
    """Every /v1 answer is one tenant's data, and some carry a secret shown once (a
    new API key, a push monitor's heartbeat URL): no cache may keep any of them."""
    add_never_cache_headers(response)
    return response


def translate_exception(exc: Exception) -> Exception:
    """Django's own body-size refusal (a SuspiciousOperation) is the client's 413, not
    a server error."""
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    return exc


class TenantAPI(_ViewSet):
    """Mix into every tenant /v1 viewset: key or session auth, org membership with
    per-action permissions (``required_perms``), per-(org, ip) rate limit, bounded
    JSON bodies, cursor pagination and UUIDs in URLs."""

    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [OrgMember]
    throttle_classes = [OrgIpRateThrottle]
    parser_classes = [LimitedJSONParser]
    pagination_class = Cursor
    schema = _PulseSchema()
    required_perms: ClassVar[dict[str, Perm]] = {}
    # Actions that read a request body; any other unsafe call must come without one.
    body_actions: ClassVar[frozenset[str]] = frozenset({"create", "update", "partial_update"})
    lookup_field = "id"
    lookup_url_kwarg = "id"
    lookup_value_converter = "uuid"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # No action: the method is not allowed, which the 405 will say.
        if self.action is not None and self.action not in self.body_actions:
            refuse_body(request)

    def handle_exception(self, exc: Exception) -> Response:
        return super().handle_exception(translate_exception(exc))

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        return never_store(super().finalize_response(request, response, *args, **kwargs))


def model_only(model: type[models.Model]) -> models.QuerySet[Any]:
    """An always-empty queryset that names the view's model for the schema generator
    (path parameter types); the views read through the tenant managers and selectors,
    and a model's manager cannot be touched at import (no org in context)."""
    return models.QuerySet(model=model).none()


def role_of(request: Request) -> str | None:
    membership = membership_of(request)
    return getattr(membership, "role", None)


def actor_of(request: Request) -> Actor:
    """Who is acting, for the audit log and timelines: the user, or the API key."""
    key = request.auth
    if isinstance(key, ApiKey):
        return Actor(api_key_id=key.id, label=f"api-key:{key.name} (pulse_{key.prefix})")
    user = request.user
    return Actor(user=user if isinstance(user, User) else None)
