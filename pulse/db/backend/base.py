"""PostgreSQL backend for the RLS-bound ``default`` alias.

Every statement runs in a transaction whose ``app.current_org`` / ``app.current_user``
were set with ``set_config(..., true)`` (transaction-local, so nothing can leak to the
next user of a pooled connection). Inside ``atomic()`` the settings are applied once
per transaction and whenever the tenant context changes; a statement issued in
autocommit mode is wrapped in its own short transaction that sets them first.
System code uses the plain backend on the ``system`` alias instead.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.backends.postgresql import base

from pulse import tenancy

_SET_SQL = (
    "SELECT set_config('app.current_org', %s, true), set_config('app.current_user', %s, true)"
)


_UNKNOWN = object()
_MARK = "_pulse_tenant"


def _context_values() -> tuple[str, str]:
    org = tenancy.current_org_id()
    user = tenancy.current_user_id()
    return (str(org) if org else "", str(user) if user else "")


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.execute_wrappers.insert(0, self._apply_tenant)

    def _apply_tenant(
        self, execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        values = _context_values()
        if self.in_atomic_block:
            self._ensure_in_transaction(values, context)
            return execute(sql, params, many, context)
        if not values[0] and not values[1]:
            # No tenant: RLS shows nothing and refuses writes; no need to wrap.
            return execute(sql, params, many, context)
        with transaction.atomic(using=self.alias):
            self._ensure_in_transaction(values, context)
            return execute(sql, params, many, context)

    def _ensure_in_transaction(self, values: tuple[str, str], context: dict[str, Any]) -> None:
        # Each Atomic object lives exactly as long as its transaction or savepoint, so
        # the marker sits on the innermost block that set the values. A savepoint
        # rolled back undoes its set_config, and one released keeps it: either way
        # the outer blocks cannot know, so setting inside a block forgets the outer
        # markers and the next statement out there sets the values again.
        blocks = self.atomic_blocks
        known = _UNKNOWN
        for block in reversed(blocks):
            if hasattr(block, _MARK):
                known = getattr(block, _MARK)
                break
        if known == values:
            return
        context["cursor"].cursor.execute(_SET_SQL, values)
        for block in blocks[:-1]:
            setattr(block, _MARK, None)
        setattr(blocks[-1], _MARK, values)
