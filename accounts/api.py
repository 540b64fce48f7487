"""/v1/auth: session authentication for browser clients and scripts (SPEC §9)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.models import Membership, User
from accounts.selectors import memberships_for_user
from accounts.serializers import (
    LoginSerializer,
    MeSerializer,
    SignupSerializer,
    SwitchOrgSerializer,
)
from accounts.services import LoginStatus
from accounts.views import INVALID_MESSAGE, LOCKED_MESSAGE, user_of
from pulse import tenancy
from pulse.errors import problem_response


def _me(request: Request, user: User, active: Membership | None) -> dict[str, Any]:
    with tenancy.org_context(None, user_id=user.id):
        memberships = list(memberships_for_user())
    if active is None and memberships:
        active = memberships[0]
    return MeSerializer(
        {
            "user": user,
            "org": active.org if active else None,
            "role": active.role if active else None,
            "memberships": memberships,
        }
    ).data


class _Unauthenticated(APIView):
    # Login and sign-up have no session yet: only JSON is parsed, which a cross-site
    # form cannot send without a CORS preflight, so no CSRF token is needed here.
    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]


class SignupView(_Unauthenticated):
    @extend_schema(
        request=SignupSerializer, responses={201: MeSerializer}, operation_id="auth_signup"
    )
    def post(self, request: Request) -> Response:
        data = SignupSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, _ = services.user_signup(**data.validated_data)
        services.user_login(request=request._request, user=user)
        return Response(_me(request, user, None), status=status.HTTP_201_CREATED)


class LoginView(_Unauthenticated):
    @extend_schema(
        request=LoginSerializer,
        responses={
            200: MeSerializer,
            401: OpenApiResponse(description="Bad credentials"),
            429: OpenApiResponse(description="Throttled"),
        },
        operation_id="auth_login",
    )
    def post(self, request: Request) -> Any:
        data = LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.login_attempt(request=request._request, **data.validated_data)
        if result.status == LoginStatus.THROTTLED:
            return problem_response(
                request._request,
                429,
                "Too many login attempts.",
                headers={"Retry-After": str(result.retry_after or 60)},
            )
        if result.status != LoginStatus.OK or result.user is None:
            detail = LOCKED_MESSAGE if result.status == LoginStatus.LOCKED else INVALID_MESSAGE
            return problem_response(request._request, 401, detail)
        services.user_login(request=request._request, user=result.user)
        return Response(_me(request, result.user, None))


class LogoutView(APIView):
    @extend_schema(request=None, responses={204: None}, operation_id="auth_logout")
    def post(self, request: Request) -> Response:
        services.user_logout(request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses={200: MeSerializer}, operation_id="auth_me")
    def get(self, request: Request) -> Response:
        user = user_of(request._request)
        return Response(_me(request, user, getattr(request._request, "membership", None)))


class SwitchOrgView(APIView):
    @extend_schema(
        request=SwitchOrgSerializer, responses={200: MeSerializer}, operation_id="auth_switch_org"
    )
    def post(self, request: Request) -> Response:
        user = user_of(request._request)
        data = SwitchOrgSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            with tenancy.org_context(None, user_id=user.id):
                membership = services.org_switch(
                    request=request._request, org_id=data.validated_data["org"]
                )
        except (Membership.DoesNotExist, ValidationError) as exc:
            raise Http404 from exc
        return Response(_me(request, user, membership))
