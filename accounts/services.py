"""Writes for accounts: sign up, log in, organizations, memberships, invitations,
password reset and sessions. Each mutation is audited."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from functools import partial

from django.contrib.auth import login as django_login
from django.contrib.auth import logout as django_logout
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import slugify

from accounts import throttle
from accounts.audit import Actor, audit_record
from accounts.models import Invitation, Membership, Organization, Role, Session, User
from accounts.permissions import Perm, can_assign_role, role_has
from accounts.selectors import ACTIVE_ORG_SESSION_KEY, memberships_for_user
from pulse import tenancy
from pulse.middleware import client_ip

INVITATION_TTL = timedelta(days=7)


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "org"
    slug = base
    while Organization.objects.filter(slug=slug).exists():
        slug = f"{base}-{secrets.token_hex(3)}"
    return slug


def org_create(*, name: str, owner: User, actor: Actor) -> Organization:
    with transaction.atomic():
        org = Organization.objects.create(name=name.strip(), slug=_unique_slug(name))
        with tenancy.org_context(org.id, user_id=owner.id):
            Membership.objects.create(org=org, user=owner, role=Role.OWNER)
            audit_record(
                actor=actor,
                action="org.create",
                org_id=org.id,
                target=org,
                changes={"name": org.name, "slug": org.slug},
            )
    return org


def user_create(*, email: str, password: str, name: str) -> User:
    """Create a user with no organization (someone joining through an invitation).

    Raises ValidationError with field keys (email, password) on bad input.
    """
    email = User.objects.normalize_email(email.strip())
    validate_password_for_field(password, User(email=email, name=name.strip()))
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password, name=name.strip())
    except IntegrityError as exc:
        if "users_email_lower_uniq" in str(exc):
            raise ValidationError(
                {"email": ["An account with this e-mail already exists."]}
            ) from exc
        raise


def user_signup(
    *, email: str, password: str, name: str, org_name: str
) -> tuple[User, Organization]:
    """Create a user, their organization and their owner membership in one transaction."""
    with transaction.atomic():
        user = user_create(email=email, password=password, name=name)
        org = org_create(name=org_name, owner=user, actor=Actor(user=user))
    return user, org


def validate_password_for_field(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc


class LoginStatus(StrEnum):
    OK = "ok"
    INVALID = "invalid"
    LOCKED = "locked"
    THROTTLED = "throttled"


@dataclass(frozen=True)
class LoginResult:
    status: LoginStatus
    user: User | None = None
    retry_after: int = 0


def login_attempt(*, request: HttpRequest, email: str, password: str) -> LoginResult:
    """Check credentials. Throttle and lockout come before the password compare
    (INV-5), and each answer is the same for an unknown address as for a known one."""
    from django.contrib.auth import authenticate

    email = email.strip()
    limit = throttle.login_throttle(request, email)
    if limit.limited:
        return LoginResult(LoginStatus.THROTTLED, retry_after=limit.retry_after)
    known = User.objects.filter(email__iexact=email).first()
    if throttle.is_locked(email, known):
        return LoginResult(LoginStatus.LOCKED)
    user = authenticate(request, email=email, password=password)
    if not isinstance(user, User):
        locked = throttle.record_failure(email, known)
        if known is not None:
            audit_known_failure(known, locked)
        return LoginResult(LoginStatus.LOCKED if locked else LoginStatus.INVALID)
    throttle.clear_failures(email, user)
    return LoginResult(LoginStatus.OK, user=user)


def audit_known_failure(user: User, locked: bool) -> None:
    if not locked:
        return
    with tenancy.org_context(None, user_id=user.id):
        org_ids = [m.org_id for m in memberships_for_user()]
    for org_id in org_ids:
        with tenancy.org_context(org_id, user_id=user.id):
            audit_record(
                actor=Actor.system("auth"), action="user.locked", org_id=org_id, target=user
            )


def user_login(*, request: HttpRequest, user: User) -> None:
    """Start an authenticated session: a new session key (rotation), with the client
    recorded for the sessions list."""
    django_login(request, user, backend="accounts.auth.EmailBackend")
    request.session["_ip"] = client_ip(request)
    request.session["_ua"] = request.META.get("HTTP_USER_AGENT", "")[:300]
    request.session.save()
    Session.objects.filter(session_key=request.session.session_key).update(
        user=user, ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")[:300]
    )
    with tenancy.org_context(None, user_id=user.id):
        first = memberships_for_user().first()
    if first is not None:
        request.session[ACTIVE_ORG_SESSION_KEY] = str(first.org_id)
        with tenancy.org_context(first.org_id, user_id=user.id):
            audit_record(
                actor=Actor(user=user), action="auth.login", org_id=first.org_id, target=user
            )


def user_logout(*, request: HttpRequest) -> None:
    django_logout(request)


def org_switch(*, request: HttpRequest, org_id: uuid.UUID | str) -> Membership:
    """Make ``org_id`` the session's active org. Not a member: DoesNotExist (→ 404)."""
    with tenancy.org_context(tenancy.current_org_id(), user_id=request.user.pk):
        membership = memberships_for_user().get(org_id=uuid.UUID(str(org_id)))
    request.session[ACTIVE_ORG_SESSION_KEY] = str(membership.org_id)
    return membership


def session_revoke_others(*, user: User, keep_session_key: str | None) -> int:
    deleted, _ = Session.objects.filter(user=user).exclude(session_key=keep_session_key).delete()
    return deleted


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_create(
    *, actor: Actor, actor_role: str, email: str, role: str
) -> tuple[Invitation, str]:
    """Invite ``email`` to the current org. Returns the invitation and its token, which
    is only ever shown in the link (we keep its hash)."""
    if not can_assign_role(actor_role, role):
        raise PermissionDenied("Your role cannot invite with that role.")
    email = User.objects.normalize_email(email.strip())
    if Membership.objects.filter(user__email__iexact=email).exists():
        raise ValidationError({"email": ["This person is already a member."]})
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        invitation = Invitation.objects.create(
            email=email,
            role=role,
            token_hash=_token_hash(token),
            invited_by=actor.user,
            expires_at=timezone.now() + INVITATION_TTL,
        )
        audit_record(
            actor=actor,
            action="invitation.create",
            org_id=invitation.org_id,
            target=invitation,
            changes={"email": email, "role": role},
        )
    from accounts.tasks import send_invitation

    transaction.on_commit(
        partial(
            send_invitation.delay,
            org_id=str(invitation.org_id),
            invitation_id=str(invitation.id),
            token=token,
        )
    )
    return invitation, token


def invitation_by_token(token: str) -> Invitation | None:
    """Find a pending invitation from its link. The invitee is not a member yet, so the
    lookup crosses orgs (system alias); the token hash is the secret."""
    invitation = (
        Invitation.all_orgs.select_related("org").filter(token_hash=_token_hash(token)).first()
    )
    if invitation is None or not invitation.is_pending():
        return None
    return invitation


def invitation_accept(*, token: str, user: User) -> Membership:
    invitation = invitation_by_token(token)
    if invitation is None:
        raise ValidationError("This invitation is invalid or has expired.")
    if invitation.email.lower() != user.email.lower():
        raise ValidationError("This invitation was sent to a different e-mail address.")
    with tenancy.org_context(invitation.org_id, user_id=user.id), transaction.atomic():
        claimed = Invitation.objects.filter(id=invitation.id, accepted_at__isnull=True).update(
            accepted_at=timezone.now()
        )
        if claimed != 1:
            raise ValidationError("This invitation was already used.")
        membership, _ = Membership.objects.get_or_create(
            user=user, defaults={"role": invitation.role, "org_id": invitation.org_id}
        )
        audit_record(
            actor=Actor(user=user),
            action="invitation.accept",
            org_id=invitation.org_id,
            target=membership,
            changes={"role": membership.role},
        )
    return membership


def invitation_revoke(*, actor: Actor, actor_role: str, invitation: Invitation) -> None:
    if not role_has(actor_role, Perm.MEMBER_MANAGE):
        raise PermissionDenied("Your role cannot revoke invitations.")
    if invitation.accepted_at is not None:
        raise ValidationError("This invitation was already accepted; remove the member instead.")
    with transaction.atomic():
        Invitation.objects.filter(id=invitation.id, accepted_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        audit_record(
            actor=actor, action="invitation.revoke", org_id=invitation.org_id, target=invitation
        )


def _other_owners(membership: Membership) -> bool:
    return Membership.objects.filter(role=Role.OWNER).exclude(id=membership.id).exists()


def membership_set_role(
    *, actor: Actor, actor_role: str, membership: Membership, role: str
) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": ["Unknown role."]})
    touches_owner = role == Role.OWNER or membership.role == Role.OWNER
    if not can_assign_role(actor_role, Role.OWNER if touches_owner else role):
        raise PermissionDenied("Your role cannot make this change.")
    if membership.role == Role.OWNER and role != Role.OWNER and not _other_owners(membership):
        raise ValidationError({"role": ["An organization needs at least one owner."]})
    with transaction.atomic():
        before = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            actor=actor,
            action="membership.role",
            org_id=membership.org_id,
            target=membership,
            changes={"role": [before, role]},
        )
    return membership


def membership_remove(*, actor: Actor, actor_role: str, membership: Membership) -> None:
    if not can_assign_role(actor_role, membership.role):
        raise PermissionDenied("Your role cannot remove this member.")
    if membership.role == Role.OWNER and not _other_owners(membership):
        raise ValidationError("An organization needs at least one owner.")
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="membership.remove",
            org_id=membership.org_id,
            target=membership,
            changes={"user": membership.user.email},
        )
        membership.delete()


def password_reset_request(*, email: str) -> None:
    """Always the same answer and the same work, known address or not: the task looks
    the user up and sends only if there is one."""
    from accounts.tasks import send_password_reset

    transaction.on_commit(partial(send_password_reset.delay, email=email.strip()))


def password_reset_confirm(*, user: User, password: str) -> None:
    validate_password_for_field(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.failed_logins = 0
        user.locked_until = None
        user.save(update_fields=["password", "failed_logins", "locked_until"])
        # A reset ends every session: whoever knew the old password is logged out.
        Session.objects.filter(user=user).delete()
        throttle.unlock(user.email)
        with tenancy.org_context(None, user_id=user.id):
            org_ids = [m.org_id for m in memberships_for_user()]
        for org_id in org_ids:
            with tenancy.org_context(org_id, user_id=user.id):
                audit_record(
                    actor=Actor(user=user), action="user.password_reset", org_id=org_id, target=user
                )
