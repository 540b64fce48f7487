"""The fault suite's own PostgreSQL and Redis: private servers in a temporary folder
under ``.run/faults/``, on free loopback ports, that the suite may stop and start at
will without disturbing anybody else's runs on the shared dev stack.

The server handling is ``scripts/devstack.py``'s own (initdb as the ``postgres`` OS
user, ``pg_ctl`` start/stop, daemonised ``redis-server``, role provisioning): a second
instance of that module is loaded with its path globals pointed at the temporary
folder, so nothing is copied and nothing of the shared ``.run/`` is touched.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import os
import secrets
import shutil
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.env import ROOT, BenchError

FAULTS_DIR = ROOT / ".run" / "faults"
# devstack's module-level paths, re-pointed at the suite's folder (relative to it).
_PATHS = {
    "RUN": "",
    "PG_LINK": "pg",
    "REDIS_DIR": "redis",
    "REDIS_PID": "redis/redis.pid",
    "REDIS_LOG": "redis/log",
    "PORTS_FILE": "ports.json",
    "LEASES": "leases",
    "LOCK_FILE": ".lock",
}


def _load_devstack(folder: Path, db_name: str) -> ModuleType:
    name = "_pulse_devstack_faults"
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts/devstack.py")
    if spec is None or spec.loader is None:
        raise BenchError("cannot load scripts/devstack.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    pg_dir = folder / "pg"
    if os.geteuid() == 0 and not module.others_can_traverse(folder):
        # As devstack does for a checkout the postgres OS user cannot reach: the cluster
        # lives in /var/tmp and pg/ is a symlink to it (made by pg_initdb).
        pg_dir = Path(tempfile.mkdtemp(prefix="pulse-faults-pg-", dir="/var/tmp"))
    pg_paths = {
        "PG_DIR": "",
        "PG_DATA": "data",
        "PG_LOG": "log",
        "PG_SUPERPASS": "superpass",
        "PG_ROLES": "roles.json",
        "PG_INIT_MARK": "initialized",
        "PG_MODE": "mode",
    }
    for attr in [*_PATHS, *pg_paths]:
        if not hasattr(module, attr):
            raise BenchError(f"scripts/devstack.py has no {attr}: update bench/fault_stack.py")
    for attr, rel in _PATHS.items():
        setattr(module, attr, folder / rel if rel else folder)
    for attr, rel in pg_paths.items():
        setattr(module, attr, pg_dir / rel if rel else pg_dir)
    setattr(module, "DBS", {"faults": db_name})  # noqa: B010 (a module loaded by path)
    return module


@dataclass
class Stack:
    """A private PostgreSQL + Redis; ``env`` holds what the Pulse processes need."""

    folder: Path
    db_name: str
    redis_db: int
    ds: ModuleType
    ports: dict[str, int] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    # -------------------------------------------------------------------- lifecycle
    @classmethod
    def create(cls, *, db_name: str, redis_db: int) -> Stack:
        FAULTS_DIR.mkdir(parents=True, exist_ok=True)
        FAULTS_DIR.chmod(0o755)  # the postgres OS user traverses it to reach pg/
        folder = Path(tempfile.mkdtemp(prefix="stack-", dir=FAULTS_DIR))
        folder.chmod(0o755)
        ds = _load_devstack(folder, db_name)
        return cls(folder=folder, db_name=db_name, redis_db=redis_db, ds=ds)

    def start(self) -> None:
        ds = self.ds
        ds.pg_initdb()
        self.ports["postgres"] = ds.pick_port(set())
        self._pg_start()
        self._redis_start()
        passwords = ds.role_passwords()
        ds.provision(self.admin(), passwords)
        self.env = self._make_env(passwords)

    def close(self) -> None:
        """Stop both servers and delete the folder (data, logs, passwords)."""
        with contextlib.suppress(Exception):
            self.ds.pg_stop()
        with contextlib.suppress(Exception):
            self.ds.redis_down()
        shutil.rmtree(Path(self.ds.PG_DIR), ignore_errors=True)
        shutil.rmtree(self.folder, ignore_errors=True)

    # -------------------------------------------------------------------- faults
    def restart_redis(self) -> float:
        """SHUTDOWN NOSAVE (the dev stack's Redis keeps no data on disk, so the broker's
        queues are lost, as in a real crash of this setup), then start on the same port.
        Returns the seconds it was unavailable."""
        began = time.monotonic()
        self.ds.redis_down()
        self._redis_start()
        return time.monotonic() - began

    def restart_postgres(self) -> float:
        """``pg_ctl stop -m fast`` (every session is terminated) and start again."""
        began = time.monotonic()
        self.ds.pg_stop()
        self._pg_start()
        return time.monotonic() - began

    def postmaster_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((Path(self.ds.PG_DATA) / "postmaster.pid").read_text().split()[0])
        return None

    def redis_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int(Path(self.ds.REDIS_PID).read_text().strip())
        return None

    # -------------------------------------------------------------------- internals
    def _pg_start(self) -> None:
        # "dev": durable (fsync on), as the dev stack runs outside tests.
        self.ds.pg_start(self.ports["postgres"], "dev")

    def _redis_start(self) -> None:
        ports: dict[str, Any] = dict(self.ports)
        port, _ = self.ds.redis_up(ports)
        if "redis" in self.ports and port != self.ports["redis"]:
            raise BenchError(f"redis came back on port {port}, not {self.ports['redis']}")
        self.ports["redis"] = port
        self.ds.write_private(Path(self.ds.PORTS_FILE), f'{{"redis": {port}}}\n')

    def admin(self) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.ports["postgres"],
            "user": "postgres",
            "password": Path(self.ds.PG_SUPERPASS).read_text().strip(),
            "dbname": "postgres",
        }

    def _make_env(self, passwords: dict[str, str]) -> dict[str, str]:
        def url(role: str) -> str:
            pw = urllib.parse.quote(passwords[role], safe="")
            return f"postgres://{role}:{pw}@127.0.0.1:{self.ports['postgres']}/{self.db_name}"

        env = dict(os.environ)
        for key in ("DATABASE_URL", "PYTHONHOME"):
            env.pop(key, None)
        venv_bin = str(ROOT / ".venv" / "bin")
        env.update(
            {
                "PULSE_ENV": "dev",
                "PULSE_DB_APP_URL": url("pulse_app"),
                "PULSE_DB_SYSTEM_URL": url("pulse_system"),
                "PULSE_DB_OWNER_URL": url("pulse_owner"),
                "REDIS_URL": f"redis://127.0.0.1:{self.ports['redis']}/{self.redis_db}",
                "PULSE_SECRET_KEY": secrets.token_urlsafe(50),
                "PULSE_ENCRYPTION_KEYS": "k1:" + base64.urlsafe_b64encode(os.urandom(32)).decode(),
                "PULSE_ALLOW_EGRESS_CIDRS": "127.0.0.0/8,::1/128",
                "DJANGO_SETTINGS_MODULE": "pulse.settings",
                # As the benches: no DEBUG (it keeps every query of a long-lived worker in
                # memory), persistent connections, quiet logs.
                "PULSE_DEBUG": "0",
                "PULSE_DB_CONN_MAX_AGE": "60",
                "PULSE_LOG_LEVEL": "WARNING",
                "PATH": f"{venv_bin}{os.pathsep}{env.get('PATH', '')}",
                "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env
