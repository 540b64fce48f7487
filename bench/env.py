"""The bench's own database and Redis database, so a developer's data is never touched.

``make bench`` runs under ``scripts/devstack.py exec`` (dev environment). Before Django
is set up, :func:`prepare_environ` points every database alias at a dedicated
database (``pulse_bench`` by default; created on first use as the devstack
superuser, owned by ``pulse_owner``) and Redis at a dedicated database number, so
the broker queues, beat tables and rows of the run are the bench's alone.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
RUN_DIR = ROOT / ".run" / "bench"
DB_URL_KEYS = ("PULSE_DB_APP_URL", "PULSE_DB_SYSTEM_URL", "PULSE_DB_OWNER_URL")
# Tables created by migrations, kept when the bench database is emptied.
KEEP_TABLES = {"django_migrations", "django_content_type", "auth_permission"}


class BenchError(Exception):
    pass


def devstack() -> ModuleType:
    """scripts/devstack.py as a module (its paths and URL parsing)."""
    spec = importlib.util.spec_from_file_location("_pulse_devstack", ROOT / "scripts/devstack.py")
    if spec is None or spec.loader is None:
        raise BenchError("cannot load scripts/devstack.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_pulse_devstack", module)
    spec.loader.exec_module(module)
    return module


def _with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


def prepare_environ(*, db_name: str, redis_db: int) -> dict[str, str]:
    """Rewrite os.environ for the bench (call before django.setup()); return the
    original database URL of the owner role (to find the server)."""
    missing = [k for k in (*DB_URL_KEYS, "REDIS_URL") if not os.environ.get(k)]
    if missing:
        raise BenchError(
            f"{', '.join(missing)} not set: run through `make bench` or "
            "`scripts/devstack.py exec -- python -m bench ...`"
        )
    original = {k: os.environ[k] for k in (*DB_URL_KEYS, "REDIS_URL")}
    for key in DB_URL_KEYS:
        os.environ[key] = _with_path(os.environ[key], f"/{db_name}")
    os.environ["REDIS_URL"] = _with_path(os.environ["REDIS_URL"], f"/{redis_db}")
    # Persistent connections in every process (as in production and tests/live.py), and
    # no DEBUG: with DEBUG on, Django keeps every query of a long-lived worker in memory.
    os.environ["PULSE_DB_CONN_MAX_AGE"] = "60"
    os.environ["PULSE_DEBUG"] = "0"
    os.environ.setdefault("PULSE_LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pulse.settings")
    return original


def _admin_kwargs(owner_url: str) -> dict[str, Any]:
    ds = devstack()
    external = os.environ.get("DATABASE_URL", "").strip()
    if external:
        admin, _host, _port, _query = ds.external_admin(external)
        return dict(admin)
    parts = urlsplit(owner_url)
    superpass = Path(ds.PG_SUPERPASS)
    if not superpass.exists():
        raise BenchError(f"{superpass} not found: is the private PostgreSQL initialised?")
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": "postgres",
        "password": superpass.read_text().strip(),
        "dbname": "postgres",
    }


def ensure_database(db_name: str, owner_url: str) -> bool:
    """Create the bench database (owned by pulse_owner, CONNECT for the two runtime
    roles, like scripts/devstack.py provisions pulse and pulse_test). True if created."""
    import psycopg
    from psycopg import sql

    admin = _admin_kwargs(owner_url)
    ident = sql.Identifier
    with psycopg.connect(**admin, autocommit=True, connect_timeout=10) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db_name,)).fetchone()
        if row is not None:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER pulse_owner").format(ident(db_name)))
    with psycopg.connect(
        **{**admin, "dbname": db_name}, autocommit=True, connect_timeout=10
    ) as conn:
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident(db_name)))
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO pulse_app, pulse_system").format(
                ident(db_name)
            )
        )
        conn.execute("GRANT USAGE ON SCHEMA public TO pulse_app, pulse_system")
        conn.execute("ALTER SCHEMA public OWNER TO pulse_owner")
    return True


def empty_database() -> None:
    """TRUNCATE every table of the bench database (as the owner), like the test suite."""
    from django.db import connections

    from pulse.db import OWNER_DB

    with connections[OWNER_DB].cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        tables = [row[0] for row in cursor.fetchall() if row[0] not in KEEP_TABLES]
        if tables:
            cursor.execute(
                "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
            )


def flush_redis() -> None:
    """Empty the bench's Redis database (only that database number)."""
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        client.flushdb()
    finally:
        client.close()
