"""Table privileges for the two runtime roles, applied after every migrate.

The app role (RLS-bound) and the system role (crosses orgs) may read and write every
table the owner created, except that append-only tables (audit logs, transitions)
take no UPDATE, DELETE or TRUNCATE from either.
"""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.db import connections
from psycopg import sql

from pulse.db import OWNER_DB, SYSTEM_DB


def append_only_tables() -> list[str]:
    """Never updated nor deleted by the runtime roles (audit logs)."""
    return sorted(
        model._meta.db_table for model in apps.get_models() if getattr(model, "append_only", False)
    )


def immutable_row_tables() -> list[str]:
    """Rows never change once written (timelines), but go with what they belong to."""
    return sorted(
        model._meta.db_table
        for model in apps.get_models()
        if getattr(model, "immutable_rows", False)
    )


def runtime_roles() -> list[str]:
    return sorted({str(settings.DATABASES[alias]["USER"]) for alias in ("default", SYSTEM_DB)})


def apply_grants() -> None:
    roles = sql.SQL(", ").join(sql.Identifier(role) for role in runtime_roles())
    owner = sql.Identifier(str(settings.DATABASES[OWNER_DB]["USER"]))
    system = sql.Identifier(str(settings.DATABASES[SYSTEM_DB]["USER"]))
    statements = [
        # Day partitions are created later by a SECURITY DEFINER function (as the
        # owner): default privileges give them the same grants as their parent.
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
        ).format(owner, roles),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
            "GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {}"
        ).format(owner, roles),
        # Only the system role (scheduler, retention) may create or drop partitions.
        sql.SQL(
            "GRANT EXECUTE ON FUNCTION pulse_ensure_day_partitions(text, int, int), "
            "pulse_drop_day_partitions(text, int) TO {}"
        ).format(system),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(roles),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(
            roles
        ),
        sql.SQL("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {}").format(
            roles
        ),
    ]
    for table in immutable_row_tables():
        statements.append(
            sql.SQL("REVOKE UPDATE ON {} FROM {}").format(sql.Identifier(table), roles)
        )
    for table in append_only_tables():
        statements.append(
            sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON {} FROM {}").format(
                sql.Identifier(table), roles
            )
        )
    with connections[OWNER_DB].cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
