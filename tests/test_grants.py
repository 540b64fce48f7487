"""Least privilege for the cross-org system role (SPEC §4): what the catalogue says it
may do equals the explicit list below, table by table, partitions included."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import ProgrammingError, connections, transaction
from psycopg import errors

from pulse.db import OWNER_DB, SYSTEM_DB
from pulse.db.grants import SYSTEM_GRANTS

# Who needs each privilege is said in pulse/db/grants.py; this copy makes widening a
# grant a visible change to a test as well.
EXPECTED: dict[str, set[str]] = {
    "organizations": {"SELECT", "INSERT", "UPDATE"},
    "users": {"SELECT", "INSERT", "UPDATE"},
    "memberships": {"SELECT", "INSERT", "UPDATE", "DELETE"},
    "invitations": {"SELECT", "INSERT", "UPDATE", "DELETE"},
    "audit_logs": {"SELECT", "INSERT"},
    "api_keys": {"SELECT", "UPDATE"},
    "monitors": {"SELECT", "UPDATE"},
    "check_results": {"INSERT"},
    "uptime_rollups": {"SELECT", "INSERT", "UPDATE"},
    "monitor_transitions": {"INSERT"},
    "incidents": {"SELECT", "INSERT", "UPDATE"},
    "incident_events": {"SELECT", "INSERT"},
    "notifications": {"SELECT", "INSERT", "UPDATE"},
    "notification_channels": {"SELECT", "UPDATE"},
    "webhook_events": {"SELECT", "INSERT"},
    "alert_rules": {"SELECT"},
    "alert_rule_monitors": {"SELECT"},
    "alert_rule_channels": {"SELECT"},
    "maintenance_windows": {"SELECT"},
    "maintenance_window_monitors": {"SELECT"},
    "hosts": {"SELECT"},
    "metric_samples": {"SELECT"},
    # check_results has a bigint serial id: inserting needs its sequence.
    "check_results_id_seq": {"USAGE"},
}


def _system_role() -> str:
    return str(settings.DATABASES[SYSTEM_DB]["USER"])


def _catalogue(sql: str) -> list[tuple[str, str]]:
    with connections[OWNER_DB].cursor() as cursor:
        cursor.execute(sql, [_system_role()])
        return [(row[0], row[1]) for row in cursor.fetchall()]


def test_the_system_roles_table_grants_are_exactly_the_reasoned_list(live_db: None) -> None:
    rows = _catalogue(
        "SELECT c.relname, a.privilege_type "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, "
        "LATERAL aclexplode(c.relacl) a "
        "WHERE n.nspname = 'public' AND a.grantee = to_regrole(%s)"
    )
    granted: dict[str, set[str]] = {}
    for table, privilege in rows:
        granted.setdefault(table, set()).add(privilege)
    assert granted == EXPECTED  # no partition, sequence or other table either
    listed = {t: set(p) for t, (p, _why) in SYSTEM_GRANTS.items()}
    assert listed == {k: v for k, v in EXPECTED.items() if not k.endswith("_seq")}


def test_no_column_grants_and_nothing_by_default(live_db: None) -> None:
    columns = _catalogue(
        "SELECT c.relname, at.attname FROM pg_attribute at "
        "JOIN pg_class c ON c.oid = at.attrelid, LATERAL aclexplode(at.attacl) a "
        "WHERE a.grantee = to_regrole(%s)"
    )
    assert columns == []
    # A table made by a future migration or a new day partition gives it nothing.
    defaults = _catalogue(
        "SELECT d.defaclobjtype::text, a.privilege_type FROM pg_default_acl d, "
        "LATERAL aclexplode(d.defaclacl) a WHERE a.grantee = to_regrole(%s)"
    )
    assert defaults == []


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT count(*) FROM sessions",  # login sessions: the web app's only
        "SELECT count(*) FROM check_results",  # it writes results, never reads them
        "DELETE FROM monitors",
        "DELETE FROM organizations",
        "UPDATE audit_logs SET action = 'x'",
        "SELECT count(*) FROM django_celery_beat_periodictask",
    ],
)
def test_the_system_role_is_refused_what_it_does_not_need(live_db: None, statement: str) -> None:
    with (
        pytest.raises(ProgrammingError) as refused,
        transaction.atomic(using=SYSTEM_DB),
        connections[SYSTEM_DB].cursor() as cursor,
    ):
        cursor.execute(statement)
    assert isinstance(refused.value.__cause__, errors.InsufficientPrivilege)
