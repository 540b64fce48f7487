"""The tenant context: which organization (and user) the current code acts for.

A request, a Celery task or a Channels consumer sets it from ids it was given; the
tenant manager reads it and fails closed without it, and the database backend copies
it into the transaction (``app.current_org``) so Row-Level Security applies too.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar

_org: ContextVar[uuid.UUID | None] = ContextVar("pulse_org", default=None)
_user: ContextVar[uuid.UUID | None] = ContextVar("pulse_user", default=None)


class NoTenantContext(RuntimeError):
    """Tenant data was queried with no organization in context."""


def _as_uuid(value: uuid.UUID | str | None) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))


def current_org_id() -> uuid.UUID | None:
    return _org.get()


def current_user_id() -> uuid.UUID | None:
    return _user.get()


def require_org_id() -> uuid.UUID:
    org_id = _org.get()
    if org_id is None:
        raise NoTenantContext(
            "No organization in context: wrap the code in tenancy.org_context(org_id) "
            "or use Model.all_orgs for system code."
        )
    return org_id


@contextlib.contextmanager
def org_context(
    org_id: uuid.UUID | str | None, *, user_id: uuid.UUID | str | None = None
) -> Iterator[None]:
    """Run the block as ``org_id`` (and ``user_id``), restoring the outer context after."""
    org_token = _org.set(_as_uuid(org_id))
    user_token = _user.set(_as_uuid(user_id))
    try:
        yield
    finally:
        _user.reset(user_token)
        _org.reset(org_token)


def set_request_context(
    org_id: uuid.UUID | None, user_id: uuid.UUID | None
) -> tuple[object, object]:
    """For middleware that cannot wrap the view in a ``with`` block (async + sync paths)."""
    return _org.set(org_id), _user.set(user_id)


def reset_request_context(tokens: tuple[object, object]) -> None:
    org_token, user_token = tokens
    _org.reset(org_token)  # type: ignore[arg-type]
    _user.reset(user_token)  # type: ignore[arg-type]
