"""Row-Level Security proven at the database, as the app role (SPEC §4, INV-1)."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, connection, connections, transaction

from accounts.models import Invitation
from pulse import tenancy
from tests.conftest import Member


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        return int(cursor.fetchone()[0])


def test_the_app_role_is_not_superuser_nor_bypassrls_nor_owner(live_db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
            "AND tableowner = current_user"
        )
        assert cursor.fetchone()[0] == 0


def test_with_org_a_set_raw_sql_sees_none_of_org_b(owner: Member, outsider: Member) -> None:
    for member in (owner, outsider):
        with tenancy.org_context(member.org.id):
            Invitation.objects.create(
                email=f"x@{member.org.slug}.test",
                token_hash=uuid.uuid4().hex,
                expires_at="2099-01-01T00:00Z",
            )
    with tenancy.org_context(owner.org.id), connection.cursor() as cursor:
        cursor.execute("SELECT org_id FROM memberships")
        assert {row[0] for row in cursor.fetchall()} == {owner.org.id}
        cursor.execute("SELECT count(*) FROM invitations WHERE org_id = %s", [outsider.org.id])
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM invitations")
        assert cursor.fetchone()[0] == 1


def test_with_org_a_set_raw_sql_cannot_insert_into_org_b(owner: Member, outsider: Member) -> None:
    with (
        tenancy.org_context(owner.org.id),
        pytest.raises(DatabaseError) as excinfo,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO invitations (id, org_id, email, role, token_hash, created_at,"
            " expires_at) VALUES (%s, %s, 'evil@x.test', 'owner', 'h', now(), now())",
            [uuid.uuid4(), outsider.org.id],
        )
    assert "row-level security" in str(excinfo.value)


def test_with_no_org_set_raw_sql_sees_zero_rows_without_error(
    owner: Member, outsider: Member
) -> None:
    assert tenancy.current_org_id() is None
    assert _count("memberships") == 0
    assert _count("audit_logs") == 0
    # The same rows exist: the system role (which may cross orgs) sees both orgs.
    with connections["system"].cursor() as cursor:
        cursor.execute("SELECT count(DISTINCT org_id) FROM memberships")
        assert cursor.fetchone()[0] == 2


def test_the_org_setting_is_transaction_local(owner: Member) -> None:
    with tenancy.org_context(owner.org.id):
        assert _count("memberships") == 1
    # Same pooled connection, next statement: nothing left behind.
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('app.current_org', true)")
        assert cursor.fetchone()[0] in ("", None)
    assert _count("memberships") == 0


def test_a_rolled_back_savepoint_does_not_lose_the_org(owner: Member) -> None:
    with tenancy.org_context(owner.org.id), transaction.atomic():
        try:
            with transaction.atomic():
                assert _count("memberships") == 1  # first statement: set inside savepoint
                raise RuntimeError("roll the savepoint back")
        except RuntimeError:
            pass
        assert _count("memberships") == 1


def test_every_table_with_an_org_id_has_rls_enabled_and_forced(live_db: None) -> None:
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
              AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                          AND a.attname = 'org_id' AND NOT a.attisdropped)
            ORDER BY c.relname
            """
        )
        rows = cursor.fetchall()
    assert rows, "expected tenant tables"
    unprotected = [
        name for name, enabled, forced, policies in rows if not (enabled and forced and policies)
    ]
    assert unprotected == []
    assert {"memberships", "invitations", "audit_logs"} <= {row[0] for row in rows}


def test_the_app_role_cannot_update_or_delete_audit_rows(owner: Member) -> None:
    with tenancy.org_context(owner.org.id):
        assert _count("audit_logs") >= 1
        for statement in ("UPDATE audit_logs SET action = 'x'", "DELETE FROM audit_logs"):
            with (
                pytest.raises(DatabaseError) as excinfo,
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(statement)
            assert "permission denied" in str(excinfo.value)
