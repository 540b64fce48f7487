"""Shared API pieces: authentication, tenant permission checks, pagination."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework import authentication, permissions
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request

from accounts.permissions import Perm, role_has

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.views import APIView


class SessionAuthentication(authentication.SessionAuthentication):
    """Django's session with CSRF enforced on unsafe methods (DRF's behaviour); the
    tenant context was already set by TenantMiddleware from the same session."""

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) to unauthenticated calls.
        return 'Session realm="pulse"'


class OrgMember(permissions.BasePermission):
    """Authenticated with an active org; the view's ``required_perms`` maps HTTP
    methods or action names to a Perm (default: READ for safe methods)."""

    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        membership = getattr(request._request, "membership", None)
        if membership is None:
            return False
        perm = required_perm(request, view)
        return role_has(membership.role, perm)


def required_perm(request: Request, view: APIView) -> Perm:
    mapping: dict[str, Perm] = getattr(view, "required_perms", {})
    action = getattr(view, "action", None)
    if action and action in mapping:
        return mapping[action]
    if request.method in permissions.SAFE_METHODS:
        return mapping.get("read", Perm.READ)
    return mapping.get("write", Perm.ORG_WRITE)


class Cursor(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"
    ordering = "-created_at"


def membership_of(request: Request) -> Any:
    return getattr(request._request, "membership", None)
