"""Migrations run only on the owner alias; everything else reads and writes ``default``
(the RLS-bound role) unless code names the system alias explicitly (``Model.all_orgs``)."""

from typing import Any

from pulse.db import OWNER_DB


class PulseRouter:
    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == OWNER_DB
