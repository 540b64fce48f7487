"""Who may do what: the one permission helper every view, API endpoint and consumer
uses (SPEC §8). Cross-org access is a 404 before this is ever asked."""

from __future__ import annotations

from enum import StrEnum

from django.core.exceptions import PermissionDenied

from accounts.models import Role


class Perm(StrEnum):
    READ = "read"
    INCIDENT_RESPOND = "incident.respond"  # acknowledge, resolve, notes
    MONITOR_OPERATE = "monitor.operate"  # pause, resume
    MONITOR_WRITE = "monitor.write"
    CHANNEL_WRITE = "channel.write"
    RULE_WRITE = "rule.write"
    MAINTENANCE_WRITE = "maintenance.write"
    STATUS_PAGE_WRITE = "status_page.write"
    API_KEY_WRITE = "api_key.write"
    MEMBER_MANAGE = "member.manage"
    OWNER_MANAGE = "owner.manage"  # grant, change or remove the owner role
    ORG_WRITE = "org.write"
    ORG_DELETE = "org.delete"
    AUDIT_READ = "audit.read"


_VIEWER = frozenset({Perm.READ})
_OPERATOR = _VIEWER | {Perm.INCIDENT_RESPOND, Perm.MONITOR_OPERATE}
_ADMIN = _OPERATOR | {
    Perm.MONITOR_WRITE,
    Perm.CHANNEL_WRITE,
    Perm.RULE_WRITE,
    Perm.MAINTENANCE_WRITE,
    Perm.STATUS_PAGE_WRITE,
    Perm.API_KEY_WRITE,
    Perm.MEMBER_MANAGE,
    Perm.ORG_WRITE,
    Perm.AUDIT_READ,
}
_OWNER = _ADMIN | {Perm.OWNER_MANAGE, Perm.ORG_DELETE}

ROLE_PERMS: dict[str, frozenset[Perm]] = {
    Role.VIEWER: _VIEWER,
    Role.OPERATOR: frozenset(_OPERATOR),
    Role.ADMIN: frozenset(_ADMIN),
    Role.OWNER: frozenset(_OWNER),
}

ROLE_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2, Role.OWNER: 3}


def role_has(role: str | None, perm: Perm) -> bool:
    return role is not None and perm in ROLE_PERMS.get(role, frozenset())


def require(role: str | None, perm: Perm) -> None:
    """Raise PermissionDenied (403) when ``role`` lacks ``perm``."""
    if not role_has(role, perm):
        raise PermissionDenied(f"Your role does not allow {perm.value}.")


def can_assign_role(actor_role: str | None, role: str) -> bool:
    """Admins manage members below owner; only owners grant or touch the owner role."""
    if role == Role.OWNER:
        return role_has(actor_role, Perm.OWNER_MANAGE)
    return role_has(actor_role, Perm.MEMBER_MANAGE)
