from typing import Any

from django.http import HttpRequest

from accounts.permissions import ROLE_PERMS
from accounts.selectors import memberships_for_user
from pulse import tenancy as tenant_ctx


def tenancy(request: HttpRequest) -> dict[str, Any]:
    """The active org, the caller's role and permissions, and (lazily) the orgs the
    switcher offers."""
    membership = getattr(request, "membership", None)
    if membership is None:
        return {"current_org": None, "current_role": None, "perms": frozenset()}

    def switchable() -> list[Any]:
        with tenant_ctx.org_context(None, user_id=membership.user_id):
            return list(memberships_for_user())

    return {
        "current_org": membership.org,
        "current_role": membership.role,
        "perms": {perm.value for perm in ROLE_PERMS.get(membership.role, frozenset())},
        "org_memberships": switchable,
    }
