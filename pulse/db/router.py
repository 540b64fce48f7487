"""Migrations run only on the owner alias; everything else reads and writes ``default``
(the RLS-bound role) unless code names the system alias explicitly (``Model.all_orgs``)."""

from typing import Any

from pulse.db import OWNER_DB


class PulseRouter:
    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == OWNER_DB

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        # Every alias is the same database under a different role.
        return True
