"""Reads for accounts. The tenant comes first; cross-org reads are the caller's own
memberships only (RLS admits those through the memberships self-select policy)."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import Membership, User

ACTIVE_ORG_SESSION_KEY = "active_org_id"


def memberships_for_user() -> QuerySet[Membership]:
    """The current user's memberships in every org, newest org last."""
    return Membership.mine.select_related("org").order_by("created_at")


def resolve_active_membership(request: HttpRequest) -> Membership | None:
    memberships = list(memberships_for_user())
    if not memberships:
        return None
    wanted = request.session.get(ACTIVE_ORG_SESSION_KEY)
    for membership in memberships:
        if str(membership.org_id) == wanted:
            return membership
    chosen = memberships[0]
    request.session[ACTIVE_ORG_SESSION_KEY] = str(chosen.org_id)
    return chosen


def member_list() -> QuerySet[Membership]:
    return Membership.objects.select_related("user").order_by("created_at")


def membership_get(*, membership_id: uuid.UUID | str) -> Membership:
    """A membership of the current org; another org's id raises DoesNotExist (→ 404)."""
    return Membership.objects.select_related("user").get(id=membership_id)


def user_by_email(email: str) -> User | None:
    return User.objects.filter(email__iexact=email.strip()).first()
