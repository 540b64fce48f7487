"""Account screens: sign up, log in/out, password reset, invitations, org switch and
creation, team members, sessions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.encoding import force_str
from django.utils.http import url_has_allowed_host_and_scheme, urlsafe_base64_decode
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.audit import Actor
from accounts.forms import (
    InviteForm,
    LoginForm,
    OrgForm,
    PasswordResetRequestForm,
    RoleForm,
    SetPasswordForm,
    SignupForm,
)
from accounts.models import Invitation, Membership, Session, User
from accounts.permissions import Perm, require
from accounts.services import LoginStatus

LOCKED_MESSAGE = (
    "Too many failed attempts: this account is locked for a while. "
    "Try again later or reset your password."
)
INVALID_MESSAGE = "That e-mail and password do not match an account."


def org_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Logged in and with an active org; sends an org-less user to create one."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request, "membership", None) is None:
            return redirect("accounts:org_create")
        return view(request, *args, **kwargs)

    return wrapper


def user_of(request: HttpRequest) -> User:
    """The logged-in user (views behind login_required)."""
    if not isinstance(request.user, User):
        raise PermissionDenied("Log in first.")
    return request.user


def actor_for(request: HttpRequest) -> Actor:
    user = request.user
    return Actor(user=user if isinstance(user, User) else None)


def role_of(request: HttpRequest) -> str | None:
    membership = getattr(request, "membership", None)
    return membership.role if membership is not None else None


def _safe_next(request: HttpRequest, default: str = "dashboard") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    from django.urls import reverse

    return reverse(default)


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    invite_token = request.GET.get("invite") or request.POST.get("invite") or ""
    invitation = services.invitation_by_token(invite_token) if invite_token else None
    initial = {"email": invitation.email} if invitation else {}
    form = SignupForm(request.POST or None, initial=initial, invited=invitation is not None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data.get("org_name"):
                user, _org = services.user_signup(
                    email=data["email"],
                    password=data["password"],
                    name=data["name"],
                    org_name=data["org_name"],
                )
            else:  # an invitee without a workspace of their own
                user = services.user_create(
                    email=data["email"], password=data["password"], name=data["name"]
                )
        except ValidationError as exc:
            form.apply_errors(exc)
        else:
            services.user_login(request=request, user=user)
            if invitation is not None:
                try:
                    membership = services.invitation_accept(token=invite_token, user=user)
                    services.org_switch(request=request, org_id=membership.org_id)
                except ValidationError as exc:
                    messages.error(request, " ".join(exc.messages))
            messages.success(request, "Welcome to Pulse. Add your first monitor to begin.")
            return redirect("dashboard")
    return render(
        request,
        "accounts/signup.html",
        {"form": form, "invite_token": invite_token, "invitation": invitation},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return redirect("dashboard")
    form = LoginForm(request.POST or None)
    status = 200
    error = ""
    if request.method == "POST" and form.is_valid():
        result = services.login_attempt(
            request=request,
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
        )
        if result.status == LoginStatus.OK and result.user is not None:
            services.user_login(request=request, user=result.user)
            return redirect(_safe_next(request))
        if result.status == LoginStatus.THROTTLED:
            status = 429
            error = "Too many login attempts. Wait a minute and try again."
        elif result.status == LoginStatus.LOCKED:
            error = LOCKED_MESSAGE
        else:
            error = INVALID_MESSAGE
    elif request.method == "POST":
        status = 400
    response = render(
        request,
        "accounts/login.html",
        {"form": form, "error": error, "next": request.GET.get("next", "")},
        status=status,
    )
    if status == 429:
        response["Retry-After"] = "60"
    return response


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    services.user_logout(request=request)
    return redirect("landing")


@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.password_reset_request(email=form.cleaned_data["email"])
        return redirect("accounts:password_reset_done")
    return render(
        request, "accounts/password_reset.html", {"form": form}, status=400 if form.errors else 200
    )


def password_reset_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/password_reset_done.html")


def _user_from_uid(uidb64: str) -> User | None:
    try:
        uid = uuid.UUID(force_str(urlsafe_base64_decode(uidb64)))
    except (ValueError, TypeError):
        return None
    return User.objects.filter(pk=uid, is_active=True).first()


@require_http_methods(["GET", "POST"])
def password_reset_confirm(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    user = _user_from_uid(uidb64)
    valid = user is not None and default_token_generator.check_token(user, token)
    form = SetPasswordForm(request.POST or None)
    if user is not None and valid and request.method == "POST" and form.is_valid():
        try:
            services.password_reset_confirm(user=user, password=form.cleaned_data["password"])
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field, errors)
        else:
            messages.success(request, "Your password was changed. Log in with the new one.")
            return redirect("accounts:login")
    return render(
        request,
        "accounts/password_reset_confirm.html",
        {"form": form, "valid": valid},
        status=200 if valid else 400,
    )


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.invitation_by_token(token)
    if invitation is None:
        return render(request, "accounts/invitation.html", {"invitation": None}, status=404)
    if request.method == "POST" and request.user.is_authenticated:
        try:
            membership = services.invitation_accept(token=token, user=user_of(request))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            services.org_switch(request=request, org_id=membership.org_id)
            messages.success(request, f"You joined {invitation.org.name}.")
            return redirect("dashboard")
    return render(request, "accounts/invitation.html", {"invitation": invitation, "token": token})


@require_POST
@login_required
def org_switch(request: HttpRequest) -> HttpResponse:
    try:
        membership = services.org_switch(request=request, org_id=request.POST.get("org", ""))
    except (Membership.DoesNotExist, ValidationError, ValueError) as exc:
        raise Http404 from exc
    messages.info(request, f"Switched to {membership.org.name}.")
    return redirect("dashboard")


@login_required
@require_http_methods(["GET", "POST"])
def org_create(request: HttpRequest) -> HttpResponse:
    form = OrgForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        org = services.org_create(
            name=form.cleaned_data["name"], owner=user_of(request), actor=actor_for(request)
        )
        services.org_switch(request=request, org_id=org.id)
        return redirect("dashboard")
    return render(
        request, "accounts/org_create.html", {"form": form}, status=400 if form.errors else 200
    )


@org_required
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest) -> HttpResponse:
    invite_form = InviteForm(request.POST or None)
    if request.method == "POST":
        require(role_of(request), Perm.MEMBER_MANAGE)
        if invite_form.is_valid():
            try:
                services.invitation_create(
                    actor=actor_for(request),
                    actor_role=role_of(request) or "",
                    email=invite_form.cleaned_data["email"],
                    role=invite_form.cleaned_data["role"],
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    invite_form.add_error(field, errors)
            else:
                messages.success(
                    request, f"Invitation sent to {invite_form.cleaned_data['email']}."
                )
                return redirect("accounts:team")
    context = {
        "members": selectors.member_list(),
        "invitations": Invitation.objects.filter(
            accepted_at__isnull=True, revoked_at__isnull=True
        ).order_by("-created_at"),
        "invite_form": invite_form,
        "role_form": RoleForm(),
    }
    return render(request, "accounts/team.html", context, status=400 if invite_form.errors else 200)


def _membership_for(request: HttpRequest, membership_id: uuid.UUID) -> Membership:
    try:
        return selectors.membership_get(membership_id=membership_id)
    except Membership.DoesNotExist as exc:
        raise Http404 from exc


@require_POST
@org_required
def member_role(request: HttpRequest, membership_id: uuid.UUID) -> HttpResponse:
    membership = _membership_for(request, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid role.")
        return redirect("accounts:team")
    try:
        services.membership_set_role(
            actor=actor_for(request),
            actor_role=role_of(request) or "",
            membership=membership,
            role=form.cleaned_data["role"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, f"{membership.user.email} is now {membership.get_role_display()}."
        )
    return redirect("accounts:team")


@require_POST
@org_required
def member_remove(request: HttpRequest, membership_id: uuid.UUID) -> HttpResponse:
    membership = _membership_for(request, membership_id)
    try:
        services.membership_remove(
            actor=actor_for(request), actor_role=role_of(request) or "", membership=membership
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{membership.user.email} was removed.")
    return redirect("accounts:team")


@require_POST
@org_required
def invitation_revoke(request: HttpRequest, invitation_id: uuid.UUID) -> HttpResponse:
    invitation = Invitation.objects.filter(id=invitation_id).first()
    if invitation is None:
        raise Http404
    try:
        services.invitation_revoke(
            actor=actor_for(request), actor_role=role_of(request) or "", invitation=invitation
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Invitation to {invitation.email} revoked.")
    return redirect("accounts:team")


@login_required
@require_http_methods(["GET", "POST"])
def sessions(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    if request.method == "POST":
        count = services.session_revoke_others(
            user=user, keep_session_key=request.session.session_key
        )
        messages.success(request, f"Logged out {count} other session(s).")
        return redirect("accounts:sessions")
    rows = Session.objects.filter(user=user).order_by("-created_at")
    return render(
        request,
        "accounts/sessions.html",
        {"sessions": rows, "current_key": request.session.session_key},
    )
