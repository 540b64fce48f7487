"""The web process's connection pools after the server drops their connections (a
PostgreSQL restart; found by ``make faults``, where every pooled connection failed one
request with a 500/503 after the server was back): a dead connection is replaced, never
handed to a request."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest
from django.conf import settings
from django.db.backends.postgresql.base import DatabaseWrapper
from django.db.utils import ConnectionHandler

from pulse.db import SYSTEM_DB
from pulse.db.checks import AsyncPinger
from pulse.lib.env import database_from_url


def _conninfo(db: dict[str, object]) -> str:
    return (
        f"host={db['HOST']} port={db['PORT']} dbname={db['NAME']} user={db['USER']} "
        f"password={db['PASSWORD']}"
    )


def _terminate(pid: int) -> None:
    """Terminate a backend (the role may end its own sessions) and wait until it is gone."""
    with psycopg.connect(_conninfo(settings.DATABASES[SYSTEM_DB]), autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", [pid])
        deadline = time.monotonic() + 10
        while conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
            assert time.monotonic() < deadline, f"backend {pid} still there"
            time.sleep(0.01)


def test_the_web_pool_replaces_a_connection_the_server_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through Django's own pool, built from our settings as the web process builds it."""
    monkeypatch.setenv("PULSE_DB_POOL", "1")
    entry = database_from_url("PULSE_DB_SYSTEM_URL", engine="django.db.backends.postgresql")
    handler = ConnectionHandler({"default": entry, "pool_restart_test": entry})
    wrapper = handler["pool_restart_test"]
    assert isinstance(wrapper, DatabaseWrapper)
    pool = wrapper.pool
    assert pool is not None
    pool.open()
    try:
        with pool.connection() as conn:
            pid = conn.info.backend_pid
        _terminate(pid)
        with pool.connection() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
            assert conn.info.backend_pid != pid
    finally:
        wrapper.close_pool()


def test_the_ping_pool_survives_its_connection_dropped(live_db: None) -> None:
    pinger = AsyncPinger()

    async def scenario() -> None:
        try:
            assert await pinger.ping(token="no-such-token", kind="ok") is None
            async with pinger._pool.connection() as conn:
                pid = conn.info.backend_pid
            await asyncio.to_thread(_terminate, pid)
            assert await pinger.ping(token="no-such-token", kind="ok") is None
        finally:
            await pinger._pool.close()

    asyncio.run(scenario())
