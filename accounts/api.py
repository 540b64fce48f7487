"""/v1/auth: session authentication for browser clients and scripts (SPEC §9)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api_keys import api_key_create, api_key_revoke
from accounts.models import ApiKey, AuditLog, Invitation, Membership, User
from accounts.permissions import Perm
from accounts.selectors import member_list, membership_get, memberships_for_user
from accounts.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    AuditLogFilterSerializer,
    AuditLogSerializer,
    InvitationCreateSerializer,
    InvitationSerializer,
    LoginSerializer,
    MemberRoleSerializer,
    MemberSerializer,
    MeSerializer,
    SignupSerializer,
    SwitchOrgSerializer,
)
from accounts.services import LoginStatus
from accounts.views import INVALID_MESSAGE, LOCKED_MESSAGE, user_of
from pulse import tenancy
from pulse.api import Cursor, SessionAuthentication
from pulse.api_auth import (
    TenantAPI,
    actor_of,
    model_only,
    never_store,
    role_of,
    translate_exception,
)
from pulse.api_docs import BAD_REQUEST, ProblemSerializer
from pulse.api_input import refuse_body
from pulse.api_json import LimitedJSONParser
from pulse.errors import PROBLEM_CONTENT_TYPE, problem_response


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


class _AuthView(APIView):
    # Session endpoints whatever DEFAULT_AUTHENTICATION_CLASSES says: an API key has
    # no user to describe or log out.
    authentication_classes: list[Any] = [SessionAuthentication]
    parser_classes = [LimitedJSONParser]
    # False: a non-empty body is refused (pulse.api_input), not ignored.
    takes_body = True

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not self.takes_body and hasattr(self, (request.method or "").lower()):
            refuse_body(request)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        return never_store(super().finalize_response(request, response, *args, **kwargs))

    def handle_exception(self, exc: Exception) -> Response:
        return super().handle_exception(translate_exception(exc))


class _Unauthenticated(_AuthView):
    # Login and sign-up have no session yet: only JSON is parsed, which a cross-site
    # form cannot send without a CORS preflight, so no CSRF token is needed here.
    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]


class SignupView(_Unauthenticated):
    @extend_schema(
        request=SignupSerializer,
        responses={201: MeSerializer},
        operation_id="auth_signup",
        summary="Sign up: a new user, their organization, and a session",
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
            (401, PROBLEM_CONTENT_TYPE): ProblemSerializer,
            (429, PROBLEM_CONTENT_TYPE): ProblemSerializer,
        },
        operation_id="auth_login",
        summary="Log in: start a session",
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


class LogoutView(_AuthView):
    takes_body = False

    @extend_schema(
        request=None,
        responses={204: None},
        operation_id="auth_logout",
        summary="Log out: end the session",
    )
    def post(self, request: Request) -> Response:
        services.user_logout(request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(_AuthView):
    @extend_schema(
        responses={200: MeSerializer},
        operation_id="auth_me",
        summary="The user, the active org and role, and all memberships",
    )
    def get(self, request: Request) -> Response:
        user = user_of(request._request)
        return Response(_me(request, user, getattr(request._request, "membership", None)))


class SwitchOrgView(_AuthView):
    @extend_schema(
        request=SwitchOrgSerializer,
        responses={200: MeSerializer},
        operation_id="auth_switch_org",
        summary="Make another of your orgs the active one",
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


# ---------------------------------------------------------------- /v1/api-keys


class KeyCursor(Cursor):
    ordering = "-created_at"


@extend_schema_view(
    list=extend_schema(summary="List the org's API keys", responses=ApiKeySerializer(many=True)),
    retrieve=extend_schema(summary="Get an API key (never its secret)", responses=ApiKeySerializer),
    create=extend_schema(
        summary="Create an API key: the full key is in this answer only",
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyCreatedSerializer},
    ),
)
class ApiKeyViewSet(TenantAPI, viewsets.GenericViewSet):
    serializer_class = ApiKeySerializer
    queryset = model_only(ApiKey)
    pagination_class = KeyCursor
    required_perms = {
        "list": Perm.API_KEY_WRITE,
        "retrieve": Perm.API_KEY_WRITE,
        "create": Perm.API_KEY_WRITE,
        "revoke": Perm.API_KEY_WRITE,
    }

    def get_key(self) -> ApiKey:
        try:
            return ApiKey.objects.select_related("created_by").get(id=self.kwargs["id"])
        except ApiKey.DoesNotExist as exc:
            raise Http404 from exc

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(ApiKey.objects.select_related("created_by"))
        return self.get_paginated_response(ApiKeySerializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(ApiKeySerializer(self.get_key()).data)

    def create(self, request: Request) -> Response:
        data = ApiKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key, full_key = api_key_create(
            actor=actor_of(request),
            role=role_of(request),
            name=data.validated_data["name"],
            scopes=data.validated_data["scopes"],
            expires_at=data.validated_data.get("expires_at"),
        )
        key.key = full_key  # type: ignore[attr-defined]
        return Response(ApiKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Revoke an API key at once", request=None, responses=ApiKeySerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, id: str) -> Response:
        key = api_key_revoke(actor=actor_of(request), role=role_of(request), api_key=self.get_key())
        return Response(ApiKeySerializer(key).data)


# ---------------------------------------------------------------- /v1/members


class MemberCursor(Cursor):
    ordering = "created_at"


@extend_schema_view(
    list=extend_schema(summary="List the org's members", responses=MemberSerializer(many=True)),
    retrieve=extend_schema(summary="Get a member", responses=MemberSerializer),
    partial_update=extend_schema(
        summary="Change a member's role (owners only for the owner role)",
        request=MemberRoleSerializer,
        responses=MemberSerializer,
    ),
    destroy=extend_schema(
        summary="Remove a member from the org", responses={204: None, **BAD_REQUEST}
    ),
)
class MemberViewSet(TenantAPI, viewsets.GenericViewSet):
    serializer_class = MemberSerializer
    queryset = model_only(Membership)
    pagination_class = MemberCursor
    required_perms = {"partial_update": Perm.MEMBER_MANAGE, "destroy": Perm.MEMBER_MANAGE}

    def get_member(self) -> Membership:
        try:
            return membership_get(membership_id=self.kwargs["id"])
        except Membership.DoesNotExist as exc:
            raise Http404 from exc

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(member_list())
        return self.get_paginated_response(MemberSerializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(MemberSerializer(self.get_member()).data)

    def partial_update(self, request: Request, id: str) -> Response:
        membership = self.get_member()
        data = MemberRoleSerializer(data=request.data, current=membership)
        data.is_valid(raise_exception=True)
        membership = services.membership_set_role(
            actor=actor_of(request),
            actor_role=role_of(request) or "",
            membership=membership,
            role=data.validated_data["role"],
        )
        return Response(MemberSerializer(membership).data)

    def destroy(self, request: Request, id: str) -> Response:
        services.membership_remove(
            actor=actor_of(request), actor_role=role_of(request) or "", membership=self.get_member()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- /v1/invitations


class InvitationCursor(Cursor):
    ordering = "-created_at"


@extend_schema_view(
    list=extend_schema(summary="List invitations", responses=InvitationSerializer(many=True)),
    retrieve=extend_schema(summary="Get an invitation", responses=InvitationSerializer),
    create=extend_schema(
        summary="Invite someone by e-mail (the link goes to them, not to the caller)",
        request=InvitationCreateSerializer,
        responses={201: InvitationSerializer},
    ),
)
class InvitationViewSet(TenantAPI, viewsets.GenericViewSet):
    serializer_class = InvitationSerializer
    queryset = model_only(Invitation)
    pagination_class = InvitationCursor
    required_perms = {
        "list": Perm.MEMBER_MANAGE,
        "retrieve": Perm.MEMBER_MANAGE,
        "create": Perm.MEMBER_MANAGE,
        "revoke": Perm.MEMBER_MANAGE,
    }

    def get_invitation(self) -> Invitation:
        try:
            return Invitation.objects.select_related("invited_by").get(id=self.kwargs["id"])
        except Invitation.DoesNotExist as exc:
            raise Http404 from exc

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(Invitation.objects.select_related("invited_by"))
        return self.get_paginated_response(InvitationSerializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(InvitationSerializer(self.get_invitation()).data)

    def create(self, request: Request) -> Response:
        data = InvitationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, _token = services.invitation_create(
            actor=actor_of(request),
            actor_role=role_of(request) or "",
            email=data.validated_data["email"],
            role=data.validated_data["role"],
        )
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke a pending invitation",
        request=None,
        responses={200: InvitationSerializer, **BAD_REQUEST},
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, id: str) -> Response:
        invitation = self.get_invitation()
        if invitation.accepted_at is not None:
            raise ValidationError("This invitation was already accepted.")
        if invitation.revoked_at is None:
            services.invitation_revoke(
                actor=actor_of(request), actor_role=role_of(request) or "", invitation=invitation
            )
        return Response(InvitationSerializer(self.get_invitation()).data)


# ---------------------------------------------------------------- /v1/audit-logs


class AuditCursor(Cursor):
    ordering = "-ts"


@extend_schema_view(
    list=extend_schema(
        summary="The audit log, newest first",
        parameters=[AuditLogFilterSerializer],
        responses=AuditLogSerializer(many=True),
    ),
)
class AuditLogViewSet(TenantAPI, viewsets.GenericViewSet):
    serializer_class = AuditLogSerializer
    queryset = model_only(AuditLog)
    pagination_class = AuditCursor
    required_perms = {"list": Perm.AUDIT_READ}

    def list(self, request: Request) -> Response:
        filters = AuditLogFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = self.paginate_queryset(audit_log_filter(**filters.validated_data))
        return self.get_paginated_response(AuditLogSerializer(page, many=True).data)


def audit_log_filter(
    *,
    action: str | None = None,
    actor: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditLog]:
    entries = AuditLog.objects.all()
    if action:
        entries = entries.filter(Q(action=action) | Q(action__startswith=f"{action}."))
    if actor:
        try:
            actor_id = uuid.UUID(actor)
        except ValueError:
            entries = entries.filter(actor_label__iexact=actor)
        else:
            entries = entries.filter(Q(actor_user_id=actor_id) | Q(actor_api_key_id=actor_id))
    if target:
        target_type, sep, target_id = target.partition(":")
        if sep:
            entries = entries.filter(target_type=target_type, target_id=target_id)
        else:
            entries = entries.filter(target_id=target)
    if since:
        entries = entries.filter(ts__gte=since)
    if until:
        entries = entries.filter(ts__lte=until)
    return entries
