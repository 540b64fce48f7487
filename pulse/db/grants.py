"""Table privileges for the two runtime roles, applied after every migrate.

The app role (RLS-bound) may read and write every table the owner created. The system
role (BYPASSRLS: it crosses orgs) gets only what ``SYSTEM_GRANTS`` lists, table by
table, with the code that needs it; a new table gives it nothing until listed here.
Append-only tables (audit logs) take no UPDATE, DELETE or TRUNCATE from either role,
timelines no UPDATE.
"""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.db import connections, transaction
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


SEL, INS, UPD, DEL = "SELECT", "INSERT", "UPDATE", "DELETE"

# The system role's privileges: each table it touches and who needs it. Deleting an
# organization or a user in the support admin is deliberately not granted: it would
# cascade over every tenant table (and the append-only audit log refuses it anyway).
SYSTEM_GRANTS: dict[str, tuple[tuple[str, ...], str]] = {
    "organizations": ((SEL, INS, UPD), "support admin; the alert engine reads org settings"),
    "users": ((SEL, INS, UPD), "support admin (staff flag, lockout)"),
    "memberships": ((SEL, INS, UPD, DEL), "support admin"),
    "invitations": ((SEL, INS, UPD, DEL), "support admin; accepting reads a token across orgs"),
    "audit_logs": ((SEL, INS), "support admin: reads the log and audits its own changes"),
    "api_keys": ((SEL, UPD), "API-key auth looks a key up across orgs, stamps last use"),
    "monitors": ((SEL, UPD), "scheduler claims and leases, recorder, heartbeats, admin"),
    "check_results": ((INS,), "the recorder COPYs results; nothing reads them cross-org"),
    "uptime_rollups": ((SEL, INS, UPD), "the recorder's upsert; /metrics totals"),
    "monitor_transitions": ((INS,), "the alert engine appends transitions"),
    "incidents": ((SEL, INS, UPD), "alert engine opens and resolves, reminders, admin, /metrics"),
    "incident_events": ((SEL, INS), "engine, notifier and reminders append the timeline; admin"),
    "notifications": ((SEL, INS, UPD), "the outbox: engine and reminders write, the relay leases"),
    "notification_channels": ((SEL, UPD), "relay reads and disables channels; key rotation"),
    "webhook_events": ((SEL, INS), "provider callbacks (Twilio status) deduplicated"),
    "alert_rules": ((SEL,), "alert engine and reminders; admin"),
    "alert_rule_monitors": ((SEL,), "alert engine"),
    "alert_rule_channels": ((SEL,), "alert engine and reminders"),
    "maintenance_windows": ((SEL,), "alert engine; admin"),
    "maintenance_window_monitors": ((SEL,), "alert engine"),
    "hosts": ((SEL,), "metric monitors resolve their host"),
    "metric_samples": ((SEL,), "metric monitors evaluate their condition"),
}


def runtime_roles() -> list[str]:
    return sorted({str(settings.DATABASES[alias]["USER"]) for alias in ("default", SYSTEM_DB)})


def apply_grants() -> None:
    app = sql.Identifier(str(settings.DATABASES["default"]["USER"]))
    roles = sql.SQL(", ").join(sql.Identifier(role) for role in runtime_roles())
    owner = sql.Identifier(str(settings.DATABASES[OWNER_DB]["USER"]))
    system = sql.Identifier(str(settings.DATABASES[SYSTEM_DB]["USER"]))
    statements = [
        # Day partitions are created later by a SECURITY DEFINER function (as the
        # owner): default privileges give them the same grants as their parent. The
        # system role reaches partitions only through their parents, so it gets none.
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public REVOKE ALL ON TABLES FROM {}"
        ).format(owner, system),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {}"
        ).format(owner, system),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
        ).format(owner, app),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public "
            "GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {}"
        ).format(owner, app),
        # Only the system role (scheduler, retention) may create or drop partitions.
        sql.SQL(
            "GRANT EXECUTE ON FUNCTION pulse_ensure_day_partitions(text, int, int), "
            "pulse_drop_day_partitions(text, int) TO {}"
        ).format(system),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(roles),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(
            app
        ),
        sql.SQL("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {}").format(app),
        # From nothing to the list, so a database set up by an older release converges.
        sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(system),
        sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {}").format(system),
    ]
    for table, (privileges, _why) in sorted(SYSTEM_GRANTS.items()):
        statements.append(
            sql.SQL("GRANT {} ON {} TO {}").format(
                sql.SQL(", ").join(sql.SQL(p) for p in privileges), sql.Identifier(table), system
            )
        )
    # Where it inserts, the table's own id sequence (serial / identity columns).
    inserting = sorted(t for t, (privileges, _why) in SYSTEM_GRANTS.items() if INS in privileges)
    with connections[OWNER_DB].cursor() as cursor:
        cursor.execute(
            "SELECT s.relname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
            "JOIN pg_class t ON t.oid = d.refobjid WHERE s.relkind = 'S' "
            "AND d.deptype IN ('a', 'i') AND t.relname = ANY(%s) ORDER BY 1",
            [inserting],
        )
        sequences = [row[0] for row in cursor.fetchall()]
    for sequence in sequences:
        statements.append(
            sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(sql.Identifier(sequence), system)
        )
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
    # One transaction: a running system never sees the role between REVOKE and GRANT.
    with transaction.atomic(using=OWNER_DB), connections[OWNER_DB].cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
