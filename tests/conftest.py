"""Test fixtures. The suite runs against the private PostgreSQL started by
``make test`` (database pulse_test), connected as the RLS-bound app role, and the
private Redis. Migrations run once per session as the owner role, like production.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connections
from django.test import Client

from accounts import services
from accounts.models import Membership, Organization, Role, User
from pulse import tenancy
from pulse.db import OWNER_DB
from tests.monitors.peers import DnsPeer, TcpPeer, WebPeer

PASSWORD = "correct-horse-battery-staple"
# Kept across tests: created by migrations, not by tests.
_KEEP_TABLES = {"django_migrations", "django_content_type", "auth_permission"}


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker: Any) -> None:
    """Use the database make test prepared (no test-database copy): migrate as the
    owner, grant the runtime roles, start from empty tables."""
    with django_db_blocker.unblock():
        call_command("setup_db")
        truncate_all()


_tables: list[str] = []


def truncate_all() -> None:
    """Empty every table that holds rows. Which ones do is asked in one query (by
    size: RLS is forced even on the owner); TRUNCATE of only those, as the owner, is
    ~10x cheaper than truncating all ~90 tables after every test."""
    if not _tables:
        with connections[OWNER_DB].cursor() as cursor:
            cursor.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
                "ORDER BY c.relname"
            )
            _tables.extend(row[0] for row in cursor.fetchall() if row[0] not in _KEEP_TABLES)
    # A table that ever held a row has a heap page (TRUNCATE gives it a new, empty
    # file): asking its size needs no privilege on it, so no role has to read every
    # table (the system role may not: least privilege).
    with connections[OWNER_DB].cursor() as cursor:
        cursor.execute(
            # pg_partition_tree lists nothing for a plain table, a parent's partitions
            "SELECT t FROM unnest(%s::text[]) AS t WHERE pg_relation_size(t::regclass) "
            "+ (SELECT coalesce(sum(pg_relation_size(p.relid)), 0) "
            "FROM pg_partition_tree(t::regclass) p) > 0",
            [_tables],
        )
        busy = [row[0] for row in cursor.fetchall()]
    if busy:
        with connections[OWNER_DB].cursor() as cursor:
            cursor.execute(
                "TRUNCATE " + ", ".join(f'"{t}"' for t in busy) + " RESTART IDENTITY CASCADE"
            )


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    """Rate-limit and lockout counters live in Redis; each test starts from zero."""
    cache.clear()
    yield


@pytest.fixture
def live_db(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Real commits (visible to other connections, aliases and processes), emptied
    afterwards as the owner. For tests that cross aliases or run the live stack."""
    with django_db_blocker.unblock():
        try:
            yield
        finally:
            for alias in connections:
                connections[alias].close()
            truncate_all()


@dataclass
class Member:
    user: User
    org: Organization
    membership: Membership
    password: str = PASSWORD

    def client(self) -> Client:
        client = Client()
        response = client.post("/login", {"email": self.user.email, "password": self.password})
        assert response.status_code == 302, response.content[:500]
        return client


def make_owner(email: str, org_name: str) -> Member:
    user, org = services.user_signup(
        email=email, password=PASSWORD, name=email.split("@")[0], org_name=org_name
    )
    with tenancy.org_context(org.id, user_id=user.id):
        membership = Membership.objects.get(user=user)
    return Member(user=user, org=org, membership=membership)


def add_member(org: Organization, email: str, role: str) -> Member:
    user = User.objects.create_user(email=email, password=PASSWORD)
    with tenancy.org_context(org.id):
        membership = Membership.objects.create(org=org, user=user, role=role)
    return Member(user=user, org=org, membership=membership)


@pytest.fixture
def owner(live_db: None) -> Member:
    return make_owner("owner@alpha.test", "Alpha")


@pytest.fixture
def outsider(live_db: None) -> Member:
    """Owner of another org: every view must answer them 404 for Alpha's objects."""
    return make_owner("outsider@beta.test", "Beta")


@pytest.fixture
def viewer(owner: Member) -> Member:
    return add_member(owner.org, "viewer@alpha.test", Role.VIEWER)


@pytest.fixture
def admin_member(owner: Member) -> Member:
    return add_member(owner.org, "admin@alpha.test", Role.ADMIN)


@pytest.fixture
def operator(owner: Member) -> Member:
    return add_member(owner.org, "operator@alpha.test", Role.OPERATOR)


# Real local peers (loopback), shared by every test package.
@pytest.fixture(scope="module")
def web() -> Iterator[WebPeer]:
    with WebPeer() as peer:
        yield peer


@pytest.fixture(scope="module")
def tcp() -> Iterator[TcpPeer]:
    with TcpPeer() as peer:
        yield peer


@pytest.fixture(scope="module")
def dns() -> Iterator[DnsPeer]:
    with DnsPeer() as peer:
        yield peer
