#!/usr/bin/env python3
"""Pulse local dev/test stack: private PostgreSQL + Redis under .run/, and the runners.

Stdlib only; run it with .venv/bin/python (SQL goes through a `.venv/bin/python -c`
child that uses psycopg 3, which the venv always has).

    devstack.py up [--test]            start private services, create roles/dbs, write .run/env*
    devstack.py down                   stop private services (if running)
    devstack.py clean                  stop them and delete their data (.run/ and the cluster)
    devstack.py exec [--test] -- CMD   up, then exec CMD with .run/env loaded (.venv/bin on PATH)
    devstack.py run                    up, setup_db, seed_demo, then web + worker + beat
    devstack.py test [PYTEST ARGS]     up (PULSE_ENV=test), then the gate: ruff, format, mypy,
                                       makemigrations --check, invariants, whole pytest suite

Environment: DATABASE_URL (admin URL of an external PostgreSQL; no private postgres),
REDIS_URL (external Redis; no private redis), PULSE_PORT (web port, default 8000),
PULSE_ENV=test (same as --test), PULSE_TEST_ONLY=pytest (test: run only the pytest step).
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import fcntl
import hashlib
import json
import os
import pwd
import random
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / ".run"
PG_LINK = RUN / "pg"


def others_can_traverse(path: Path) -> bool:
    """True if a user who is neither owner nor group member may reach ``path``."""
    for p in (path, *path.parents):
        try:
            if not p.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def pg_home() -> Path:
    """Where the private cluster lives: ``.run/pg``, unless the server's OS user cannot
    reach it. PostgreSQL refuses to run as root, so as root the cluster runs as the
    ``postgres`` user, which cannot traverse a checkout in root's 0700 home or in a
    ``mktemp -d`` folder. Then the cluster lives in a postgres-owned folder in /var/tmp
    keyed by the checkout's path, and ``.run/pg`` is a symlink to it: the permissions of
    the user's own folders are never changed."""
    if PG_LINK.is_symlink():
        return PG_LINK.resolve()
    if PG_LINK.exists() or os.geteuid() != 0 or others_can_traverse(ROOT):
        return PG_LINK
    digest = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    return Path("/var/tmp") / f"pulse-pg-{digest}"


PG_DIR = pg_home()
PG_DATA = PG_DIR / "data"
PG_LOG = PG_DIR / "log"
PG_SUPERPASS = PG_DIR / "superpass"
PG_ROLES = PG_DIR / "roles.json"
PG_INIT_MARK = PG_DIR / "initialized"
PG_MODE = PG_DIR / "mode"
REDIS_DIR = RUN / "redis"
REDIS_PID = REDIS_DIR / "redis.pid"
REDIS_LOG = REDIS_DIR / "log"
PORTS_FILE = RUN / "ports.json"
LEASES = RUN / "leases"
LOCK_FILE = RUN / ".lock"
VENV_BIN = ROOT / ".venv" / "bin"
VENV_PY = VENV_BIN / "python"

DBS = {"dev": "pulse", "test": "pulse_test"}
REDIS_DBS = {"dev": 0, "test": 1}
# Parallel test runs (several developers or agents on one machine) each name their own
# database and Redis db, so one run's TRUNCATE or FLUSHDB never hits another's data.
_TEST_DB = os.environ.get("PULSE_TEST_DB", "").strip()
if _TEST_DB:
    if not re.fullmatch(r"pulse_test_[a-z0-9_]{1,40}", _TEST_DB):
        sys.exit("devstack: PULSE_TEST_DB must look like pulse_test_<name> (a-z, 0-9, _)")
    DBS["test"] = _TEST_DB
_TEST_REDIS_DB = os.environ.get("PULSE_TEST_REDIS_DB", "").strip()
if _TEST_REDIS_DB:
    if not _TEST_REDIS_DB.isdigit() or not 2 <= int(_TEST_REDIS_DB) <= 15:
        sys.exit("devstack: PULSE_TEST_REDIS_DB must be a number from 2 to 15")
    REDIS_DBS["test"] = int(_TEST_REDIS_DB)
ROLE_ATTRS = {
    # Owns the databases and every table; migrations run as it.
    "pulse_owner": "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE",
    # The RLS-bound role the web app uses.
    "pulse_app": "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE",
    # Cross-org role: Django admin, scheduler, outbox.
    "pulse_system": "LOGIN NOSUPERUSER BYPASSRLS NOCREATEDB NOCREATEROLE",
}
ENV_KEYS = (
    "PULSE_ENV",
    "PULSE_DB_APP_URL",
    "PULSE_DB_SYSTEM_URL",
    "PULSE_DB_OWNER_URL",
    "REDIS_URL",
    "PULSE_SECRET_KEY",
    "PULSE_ENCRYPTION_KEYS",
    "PULSE_ALLOW_EGRESS_CIDRS",
    "DJANGO_SETTINGS_MODULE",
)
DEMO_LOGIN = "demo@pulse.local / pulse-demo-password"

# Services this process started (so an interrupted `test` still stops what it started).
STARTED: list[str] = []


# --------------------------------------------------------------------------- helpers
def log(msg: str) -> None:
    print(f"devstack: {msg}", file=sys.stderr, flush=True)


class DevstackError(Exception):
    pass


def die(msg: str, code: int = 1) -> NoReturn:
    print(f"devstack: ERROR: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


def is_root() -> bool:
    return os.geteuid() == 0


def write_private(path: Path, text: str) -> None:
    """Write a file readable only by its owner (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    tmp.chmod(0o600)
    tmp.replace(path)


def read_or_create(path: Path, make: Callable[[], str]) -> str:
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    value = make()
    write_private(path, value + "\n")
    return value


def load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def port_in_use(port: int) -> bool:
    """True if something listens on 127.0.0.1:port (or holds it so we cannot bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        if s.connect_ex(("127.0.0.1", port)) == 0:
            return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def pick_port(avoid: set[int]) -> int:
    # Below the kernel's ephemeral range, so outgoing connections don't collide with it.
    for _ in range(200):
        port = random.randint(20000, 29999)
        if port not in avoid and not port_in_use(port):
            return port
    raise DevstackError("could not find a free loopback port")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A daemonised server that exited stays a zombie until init reaps it (slowly, here).
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return False
    return True


def proc_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@contextlib.contextmanager
def state_lock() -> Iterator[None]:
    """Serialise up/down between concurrent devstack invocations."""
    RUN.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# Leases: every invocation that may stop the services at its end (run/test) or that
# uses them for a while (exec) records its pid; a stop "at the end" is skipped while
# another live invocation still holds a lease.
def take_lease() -> None:
    LEASES.mkdir(parents=True, exist_ok=True)
    (LEASES / str(os.getpid())).touch()


def drop_lease() -> None:
    with contextlib.suppress(FileNotFoundError):
        (LEASES / str(os.getpid())).unlink()


def other_live_leases() -> list[int]:
    live = []
    if LEASES.is_dir():
        for f in LEASES.iterdir():
            try:
                pid = int(f.name)
            except ValueError:
                continue
            if pid == os.getpid():
                continue
            if pid_alive(pid):
                live.append(pid)
            else:
                with contextlib.suppress(FileNotFoundError):
                    f.unlink()
    return live


# --------------------------------------------------------------------------- redis
def redis_ping(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def redis_running_pid(port: object) -> int | None:
    """Pid of our redis (from its pidfile, checked against its process title)."""
    try:
        pid = int(REDIS_PID.read_text().strip())
    except (OSError, ValueError):
        return None
    cmdline = proc_cmdline(pid)
    if pid_alive(pid) and "redis-server" in cmdline and f"127.0.0.1:{port} " in cmdline + " ":
        return pid
    return None


def redis_binary() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None
    )
    if not found:
        raise DevstackError("redis-server not found; run `make bootstrap` (Debian redis-server)")
    return found


def redis_up(ports: dict[str, Any]) -> tuple[int, bool]:
    """Return (port, started_now)."""
    saved = ports.get("redis")
    pid = redis_running_pid(saved)
    if pid and isinstance(saved, int) and redis_ping(saved):
        return saved, False
    if pid:  # ours, but not answering on the saved port: restart it
        redis_kill(pid)
    avoid = {p for p in ports.values() if isinstance(p, int)}
    if isinstance(saved, int) and not port_in_use(saved):
        port = saved
    else:
        if isinstance(saved, int):
            log(f"redis port {saved} is taken by another process; picking a new one")
        port = pick_port(avoid)
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    cmd = [
        redis_binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--daemonize", "yes",
        "--pidfile", str(REDIS_PID),
        "--dir", str(REDIS_DIR),
        "--logfile", str(REDIS_LOG),
        "--save", "",
        "--appendonly", "no",
    ]  # fmt: skip
    res = subprocess.run(cmd, cwd=REDIS_DIR, capture_output=True, text=True)
    if res.returncode != 0:
        raise DevstackError(f"redis-server failed to start: {res.stderr or res.stdout}")
    deadline = time.monotonic() + 30
    while not redis_ping(port):
        if time.monotonic() > deadline:
            raise DevstackError(f"redis did not answer PING on port {port}; see {REDIS_LOG}")
        time.sleep(0.05)
    ports["redis"] = port
    return port, True


def redis_kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def redis_down() -> bool:
    port = load_json(PORTS_FILE).get("redis")
    pid = redis_running_pid(port)
    if not pid:
        return False
    if isinstance(port, int):
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=2) as s,
        ):
            s.sendall(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
            s.recv(64)
        deadline = time.monotonic() + 5
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    if pid_alive(pid) and "redis-server" in proc_cmdline(pid):
        redis_kill(pid)
    with contextlib.suppress(FileNotFoundError):
        REDIS_PID.unlink()
    return True


# --------------------------------------------------------------------------- postgres
def pg_bindir() -> Path:
    """Debian's /usr/lib/postgresql/<major>/bin; matching the data dir if initialised."""
    dirs = []
    for d in Path("/usr/lib/postgresql").glob("*/bin"):
        if all(os.access(d / b, os.X_OK) for b in ("initdb", "pg_ctl", "postgres")):
            with contextlib.suppress(ValueError):
                dirs.append((int(d.parent.name.split(".")[0]), d))
    if not dirs:
        raise DevstackError(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; "
            "run `make bootstrap` (Debian postgresql)"
        )
    dirs.sort()
    version_file = PG_DATA / "PG_VERSION"
    if version_file.exists():
        want = int(version_file.read_text().strip().split(".")[0])
        for major, d in dirs:
            if major == want:
                return d
        raise DevstackError(
            f"{PG_DATA} was created by PostgreSQL {want}, whose binaries are not installed; "
            "`make clean-run` to start over"
        )
    return dirs[-1][1]


def pg_user_prefix() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if is_root() else []


def ensure_postgres_os_user() -> None:
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "postgres"], check=True
        )
        log("created system user postgres")


def pg_chown() -> None:
    if not is_root():
        return
    pw = pwd.getpwnam("postgres")
    for path in [PG_DIR, *PG_DIR.rglob("*")]:
        st = path.lstat()
        if st.st_uid != pw.pw_uid or st.st_gid != pw.pw_gid:
            os.lchown(path, pw.pw_uid, pw.pw_gid)


def pg_run(args: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([*pg_user_prefix(), *args], cwd=PG_DIR, capture_output=True, text=True)
    if check and res.returncode != 0:
        raise DevstackError(
            f"{shlex.join(args)} failed ({res.returncode}):\n{res.stdout}{res.stderr}"
        )
    return res


def pg_running_port() -> int | None:
    """Port of our postgres if it is running, else None.

    Checks that postmaster.pid names a live postgres process for *this* data dir: after a
    machine restart the recorded pid may belong to an unrelated process.
    """
    try:
        lines = (PG_DATA / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, IndexError, ValueError):
        return None
    cmdline = proc_cmdline(pid)
    if pid_alive(pid) and "postgres" in cmdline and str(PG_DATA) in cmdline:
        return port
    return None


def pg_initdb() -> None:
    if PG_INIT_MARK.exists() and (PG_DATA / "PG_VERSION").exists():
        return
    if is_root():
        ensure_postgres_os_user()
    if PG_DATA.exists():
        log(f"removing a half-initialised {PG_DATA}")
        shutil.rmtree(PG_DATA)
    PG_DIR.mkdir(parents=True, exist_ok=True)
    PG_DIR.chmod(0o700)
    if PG_DIR != PG_LINK and not PG_LINK.is_symlink():
        PG_LINK.symlink_to(PG_DIR)
        log(f"the postgres OS user cannot reach {RUN}: its cluster lives in {PG_DIR}")
    read_or_create(PG_SUPERPASS, lambda: secrets.token_urlsafe(24))
    pg_chown()
    if is_root():
        # The server runs as the postgres OS user: it must reach its data directory.
        probe = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(PG_DIR)])
        if probe.returncode != 0:
            raise DevstackError(f"the postgres OS user cannot traverse {PG_DIR}")
    initdb = str(pg_bindir() / "initdb")
    base = [
        initdb,
        "-D", str(PG_DATA),
        "-U", "postgres",
        f"--pwfile={PG_SUPERPASS}",
        "--auth-host=scram-sha-256",
        "--auth-local=scram-sha-256",
        "--encoding=UTF8",
    ]  # fmt: skip
    res = pg_run([*base, "--locale=C.UTF-8"], check=False)
    if res.returncode != 0:
        if PG_DATA.exists():
            shutil.rmtree(PG_DATA)
        res = pg_run([*base, "--locale=C"], check=False)
        if res.returncode != 0:
            raise DevstackError(f"initdb failed:\n{res.stdout}{res.stderr}")
    PG_INIT_MARK.write_text("ok\n")
    pg_chown()
    log(f"initialised PostgreSQL data dir {PG_DATA}")


def pg_start(port: int, mode: str) -> None:
    opts = [
        "-c listen_addresses=127.0.0.1",
        "-c unix_socket_directories=''",
        f"-c port={port}",
        "-c max_connections=300",
        "-c shared_buffers=256MB",
    ]
    if mode == "test":
        opts += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
    PG_MODE.write_text(mode + "\n")
    with contextlib.suppress(FileNotFoundError):  # stale: pg_running_port() said not running
        (PG_DATA / "postmaster.pid").unlink()
    pg_chown()
    res = pg_run(
        [
            str(pg_bindir() / "pg_ctl"),
            "-D", str(PG_DATA),
            "-l", str(PG_LOG),
            "-o", " ".join(opts),
            "-w", "-t", "60",
            "start",
        ],
        check=False,
    )  # fmt: skip
    if res.returncode != 0:
        tail = ""
        with contextlib.suppress(OSError):
            tail = "\n".join(PG_LOG.read_text(errors="replace").splitlines()[-20:])
        raise DevstackError(f"pg_ctl start failed:\n{res.stdout}{res.stderr}\n{tail}")


def pg_stop() -> bool:
    if pg_running_port() is None:
        return False
    pg_ctl = str(pg_bindir() / "pg_ctl")
    pg_run([pg_ctl, "-D", str(PG_DATA), "-m", "fast", "-w", "-t", "60", "stop"])
    return True


def pg_up(ports: dict[str, Any], mode: str) -> tuple[int, bool]:
    """Ensure our private postgres runs. Return (port, started_now)."""
    pg_initdb()
    running = pg_running_port()
    if running is not None:
        started_mode = PG_MODE.read_text().strip() if PG_MODE.exists() else "dev"
        if mode == "dev" and started_mode == "test" and not other_live_leases():
            log("restarting postgres with durable settings (it was started for tests)")
            pg_stop()
        else:
            ports["postgres"] = running
            return running, False
    saved = ports.get("postgres")
    avoid = {p for p in ports.values() if isinstance(p, int)}
    if isinstance(saved, int) and not port_in_use(saved):
        port = saved
    else:
        if isinstance(saved, int):
            log(f"postgres port {saved} is taken by another process; picking a new one")
        port = pick_port(avoid)
    pg_start(port, mode)
    ports["postgres"] = port
    return port, True


# SQL runs in a `.venv/bin/python -c` child with psycopg 3 (this file stays stdlib-only).
PROVISION_SCRIPT = r"""
import json, sys
import psycopg
from psycopg import sql

cfg = json.load(sys.stdin)
admin = cfg["admin"]
roles = cfg["roles"]
dbs = cfg["dbs"]
ident = sql.Identifier

def connect(dbname):
    return psycopg.connect(**{**admin, "dbname": dbname}, autocommit=True, connect_timeout=10)

with connect(admin.get("dbname") or "postgres") as conn:
    for name, spec in roles.items():
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(
            sql.SQL("{} ROLE {} WITH {} PASSWORD {}").format(
                sql.SQL(verb), ident(name), sql.SQL(spec["attrs"]), sql.Literal(spec["password"])
            )
        )
    for db in dbs:
        row = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (db,)
        ).fetchone()
        if row is None:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER pulse_owner").format(ident(db)))
            print(f"created database {db}")
        elif row[0] != "pulse_owner":
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO pulse_owner").format(ident(db)))
for db in dbs:
    with connect(db) as conn:
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident(db)))
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO pulse_app, pulse_system").format(ident(db))
        )
        conn.execute("GRANT USAGE ON SCHEMA public TO pulse_app, pulse_system")
        conn.execute("ALTER SCHEMA public OWNER TO pulse_owner")
"""


def role_passwords() -> dict[str, str]:
    data = load_json(PG_ROLES)
    changed = False
    for role in ROLE_ATTRS:
        if not isinstance(data.get(role), str) or not data[role]:
            data[role] = secrets.token_urlsafe(24)
            changed = True
    if changed or not PG_ROLES.exists():
        write_private(PG_ROLES, json.dumps(data, indent=2) + "\n")
    return {r: str(data[r]) for r in ROLE_ATTRS}


def provision(admin: dict[str, Any], passwords: dict[str, str]) -> None:
    cfg = {
        "admin": admin,
        "roles": {r: {"attrs": a, "password": passwords[r]} for r, a in ROLE_ATTRS.items()},
        "dbs": list(DBS.values()),
    }
    python = str(VENV_PY) if VENV_PY.exists() else sys.executable
    res = subprocess.run(
        [python, "-c", PROVISION_SCRIPT],
        input=json.dumps(cfg),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if res.returncode != 0:
        raise DevstackError(f"creating roles/databases failed:\n{res.stderr or res.stdout}")
    for line in res.stdout.splitlines():
        log(line)


# --------------------------------------------------------------------------- up / down
@dataclass
class Stack:
    mode: str
    env: dict[str, str]
    started: list[str] = field(default_factory=list)  # "postgres"/"redis" started now


def external_admin(url: str) -> tuple[dict[str, Any], str, int, str]:
    """Parse DATABASE_URL into psycopg kwargs, host, port, and the query string."""
    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("postgres", "postgresql"):
        raise DevstackError(f"DATABASE_URL must be postgres://...; got scheme {u.scheme!r}")
    host = u.hostname or "127.0.0.1"
    port = u.port or 5432
    admin: dict[str, Any] = {
        "host": host,
        "port": port,
        "user": urllib.parse.unquote(u.username or "postgres"),
        "dbname": urllib.parse.unquote(u.path.lstrip("/")) or "postgres",
    }
    if u.password is not None:
        admin["password"] = urllib.parse.unquote(u.password)
    for key, values in urllib.parse.parse_qs(u.query).items():
        admin[key] = values[-1]
    return admin, host, port, u.query


def env_line(key: str, value: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./\-]*", value):
        return f"{key}={value}"
    return f"{key}={shlex.quote(value)}"


def up(mode: str, quiet: bool = False) -> Stack:
    started: list[str] = []
    with state_lock():
        RUN.mkdir(parents=True, exist_ok=True)
        RUN.chmod(0o755)  # the postgres OS user must traverse it; secrets in it are 0600
        ports = load_json(PORTS_FILE)
        passwords = role_passwords()

        db_url = os.environ.get("DATABASE_URL", "").strip()
        if db_url:
            admin, host, pg_port, query = external_admin(db_url)
        else:
            pg_port, pg_started = pg_up(ports, mode)
            if pg_started:
                started.append("postgres")
                STARTED.append("postgres")
                log(f"started private postgres on 127.0.0.1:{pg_port}")
            host, query = "127.0.0.1", ""
            admin = {
                "host": host,
                "port": pg_port,
                "user": "postgres",
                "password": PG_SUPERPASS.read_text().strip(),
                "dbname": "postgres",
            }
        redis_url_ext = os.environ.get("REDIS_URL", "").strip()
        if redis_url_ext.rsplit("/", 1)[0] == f"redis://127.0.0.1:{ports.get('redis')}":
            redis_url_ext = ""  # our own, from a sourced .run/env: not an external redis
        if redis_url_ext:
            redis_url = redis_url_ext
        else:
            redis_port, redis_started = redis_up(ports)
            if redis_started:
                started.append("redis")
                STARTED.append("redis")
                log(f"started private redis on 127.0.0.1:{redis_port}")
            redis_url = f"redis://127.0.0.1:{redis_port}"
        write_private(PORTS_FILE, json.dumps(ports, indent=2, sort_keys=True) + "\n")

        provision(admin, passwords)

        secret_key = read_or_create(RUN / "secret_key", lambda: secrets.token_urlsafe(50))
        enc_keys = read_or_create(
            RUN / "encryption_keys",
            lambda: "k1:" + base64.urlsafe_b64encode(os.urandom(32)).decode(),
        )
        hostport = f"[{host}]:{pg_port}" if ":" in host else f"{host}:{pg_port}"
        suffix = f"?{query}" if query else ""
        envs: dict[str, dict[str, str]] = {}
        for m, db in DBS.items():

            def url(role: str, db: str = db) -> str:
                pw = urllib.parse.quote(passwords[role], safe="")
                return f"postgres://{role}:{pw}@{hostport}/{db}{suffix}"

            envs[m] = {
                "PULSE_ENV": m,
                "PULSE_DB_APP_URL": url("pulse_app"),
                "PULSE_DB_SYSTEM_URL": url("pulse_system"),
                "PULSE_DB_OWNER_URL": url("pulse_owner"),
                # Separate Redis databases: a dev run flushing its cache or queues
                # must not touch a test run's rate-limit counters or broker.
                "REDIS_URL": redis_url if redis_url_ext else f"{redis_url}/{REDIS_DBS[m]}",
                "PULSE_SECRET_KEY": secret_key,
                "PULSE_ENCRYPTION_KEYS": enc_keys,
                "PULSE_ALLOW_EGRESS_CIDRS": "127.0.0.0/8,::1/128",
                "DJANGO_SETTINGS_MODULE": "pulse.settings",
            }
        for m, name in (("dev", "env.run"), ("test", "env.test")):
            body = "".join(env_line(k, envs[m][k]) + "\n" for k in ENV_KEYS)
            write_private(RUN / name, body)
        current = RUN / ("env.test" if mode == "test" else "env.run")
        write_private(RUN / "env", current.read_text())
    if not quiet and not started:
        log(f"services ready ({mode}); env in .run/env")
    return Stack(mode=mode, env=envs[mode], started=started)


def down(only: Sequence[str] = ("postgres", "redis"), quiet: bool = False) -> None:
    with state_lock():
        if "postgres" in only and pg_stop() and not quiet:
            log("stopped private postgres")
        if "redis" in only and redis_down() and not quiet:
            log("stopped private redis")


def clean() -> None:
    """Stop the private services and delete everything they keep: .run/ and, where the
    cluster could not live inside it, the cluster's folder that .run/pg points to."""
    down()
    if PG_LINK.is_symlink():
        shutil.rmtree(PG_LINK.resolve(), ignore_errors=True)
    shutil.rmtree(RUN, ignore_errors=True)


def down_at_end(only: Sequence[str]) -> None:
    """Stop services at the end of run/test unless another invocation still uses them."""
    if not only:
        return
    others = other_live_leases()
    if others:
        log(f"leaving services running (still used by pid {', '.join(map(str, others))})")
        return
    down(only, quiet=True)


def child_env(stack: Stack) -> dict[str, str]:
    env = dict(os.environ)
    env.update(stack.env)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(ROOT / ".venv")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("PYTHONHOME", None)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def mode_from(args_test: bool) -> str:
    return "test" if args_test or os.environ.get("PULSE_ENV") == "test" else "dev"


# --------------------------------------------------------------------------- run
class Child:
    def __init__(self, tag: str, cmd: list[str], env: dict[str, str]) -> None:
        self.tag = tag
        self.cmd = cmd
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,  # own group: terminal Ctrl-C reaches only us; we stop them
        )
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    _out_lock = threading.Lock()

    def _pump(self) -> None:
        if self.proc.stdout is None:
            return
        prefix = f"{self.tag:<6} | ".encode()
        out: IO[bytes] = sys.stdout.buffer
        for line in iter(self.proc.stdout.readline, b""):
            with Child._out_lock, contextlib.suppress(OSError):  # keep draining if stdout broke
                out.write(prefix + line if line.endswith(b"\n") else prefix + line + b"\n")
                out.flush()

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)


def stop_children(children: list[Child]) -> None:
    for c in children:
        if c.proc.poll() is None:
            c.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(c.proc.poll() is None for c in children):
        time.sleep(0.1)
    for c in children:
        # The leader may be gone while its workers (celery pool) linger: kill the group.
        c.signal_group(signal.SIGKILL)
        if c.proc.poll() is None:
            c.proc.wait()
        c.thread.join(timeout=2)


class Stop(Exception):
    pass


def install_stop_handlers() -> None:
    def handler(signum: int, _frame: object) -> None:
        raise Stop(signum)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)
    term_with_parent()


def term_with_parent() -> None:
    """A process manager's SIGTERM reaches `make` only, and make exits without passing
    it on: its children would live on as orphans. Ask the kernel to send us SIGTERM when
    the parent goes (Linux prctl PR_SET_PDEATHSIG), so `make run` and `make test` stop
    cleanly however they are stopped."""
    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent went before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


# `run`: one-off steps before the long-running processes (python args, run from ROOT).
SETUP_STEPS: list[list[str]] = [["manage.py", "setup_db"], ["manage.py", "seed_demo"]]


# Per process: the web process pools its database connections (a thread per request),
# workers keep theirs open (long-lived threads; a pool would not survive prefork).
PROCESS_ENV = {
    "web": {"PULSE_DB_POOL": "1"},
    "checks": {"PULSE_DB_CONN_MAX_AGE": "300"},
    "worker": {"PULSE_DB_CONN_MAX_AGE": "300"},
    "beat": {"PULSE_DB_CONN_MAX_AGE": "300"},
}


def run_specs(port: int, demo_port: int) -> list[tuple[str, list[str]]]:
    """The long-running processes of `run`: (tag, argv). Probes get their own worker,
    one process per core (each batch is asyncio I/O inside one task; threads would share
    one GIL, see DECISIONS.md), so a slow batch never delays an alert or a notification
    on the other worker."""
    b = str(VENV_BIN)
    return [
        ("web", [f"{b}/daphne", "-b", "127.0.0.1", "-p", str(port), "pulse.asgi:application"]),
        ("checks", [f"{b}/celery", "-A", "pulse", "worker", "-n", "checks@%h", "-Q", "checks",
                    "-P", "prefork", "-c", str(os.cpu_count() or 2), "--loglevel", "INFO"]),
        ("worker", [f"{b}/celery", "-A", "pulse", "worker", "-n", "worker@%h", "-Q",
                    "default,alerts,notifications", "-c", "2", "--loglevel", "INFO"]),
        ("beat", [f"{b}/celery", "-A", "pulse", "beat", "--scheduler",
                  "django_celery_beat.schedulers:DatabaseScheduler", "--loglevel", "INFO"]),
        ("demo", [str(VENV_PY), "scripts/demo_target.py", "--port", str(demo_port)]),
    ]  # fmt: skip


def cmd_run() -> int:
    port = int(os.environ.get("PULSE_PORT", "8000"))
    if port_in_use(port):
        die(
            f"port {port} on 127.0.0.1 is already in use; stop what uses it or pick another "
            f"port with PULSE_PORT=NNNN make run"
        )
    take_lease()
    install_stop_handlers()
    children: list[Child] = []
    code = 0
    try:
        stack = up("dev")
        env = child_env(stack)
        # A small local service for the demo monitors to watch (scripts/demo_target.py).
        demo_port = pick_port({port})
        env["PULSE_DEMO_TARGET_URL"] = f"http://127.0.0.1:{demo_port}"
        # Heartbeat URLs and alert links name the port this run serves on.
        env.setdefault("PULSE_PUBLIC_URL", f"http://127.0.0.1:{port}")
        py = str(VENV_PY)
        for step in SETUP_STEPS:
            log(f"python {shlex.join(step)}")
            res = subprocess.run([py, *step], cwd=ROOT, env=env)
            if res.returncode != 0:
                log(f"python {shlex.join(step)} failed with exit code {res.returncode}")
                return res.returncode
        if port_in_use(port):
            log(f"port {port} on 127.0.0.1 was taken meanwhile; set PULSE_PORT")
            return 1
        for tag, cmd in run_specs(port, demo_port):
            children.append(Child(tag, cmd, {**env, **PROCESS_ENV.get(tag, {})}))
        health = f"http://127.0.0.1:{port}/api/health"
        deadline = time.monotonic() + 60
        healthy = False
        last = "no answer"
        while True:
            for c in children:
                rc = c.proc.poll()
                if rc is not None:
                    log(f"{c.tag} exited unexpectedly with code {rc}; stopping everything")
                    code = rc or 1
                    return code
            if not healthy:
                try:
                    with urllib.request.urlopen(health, timeout=2) as resp:
                        healthy = resp.status == 200
                        last = f"HTTP {resp.status}"
                except urllib.error.HTTPError as exc:
                    last = f"HTTP {exc.code}"
                except (OSError, ValueError) as exc:
                    last = str(exc)
                if healthy:
                    print(
                        f"\nPulse is up: http://127.0.0.1:{port}   demo login: {DEMO_LOGIN}\n",
                        flush=True,
                    )
                elif time.monotonic() > deadline:
                    log(f"GET {health} did not answer 200 within 60 s (last: {last}); stopping")
                    return 1
            time.sleep(0.5 if not healthy else 0.2)
    except Stop:
        log("stopping (signal received)")
        code = 0
    except DevstackError as exc:
        log(f"ERROR: {exc}")
        code = 1
    finally:
        # Further signals must not interrupt the cleanup.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        stop_children(children)
        drop_lease()
        down_at_end(("postgres", "redis"))
        log("stopped")
    return code


# --------------------------------------------------------------------------- test
def run_step(cmd: list[str], env: dict[str, str]) -> int:
    """Run one gate step in the foreground; Ctrl-C goes to the step (e.g. pytest) itself."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    interrupted: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        interrupted.append(signum)
        if signum != signal.SIGINT:  # SIGINT already reached the child via the terminal
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        rc = proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if interrupted:
        return rc if rc != 0 else 128 + interrupted[0]
    return rc


def cmd_test(pytest_args: list[str]) -> int:
    os.environ["PULSE_ENV"] = "test"
    only = os.environ.get("PULSE_TEST_ONLY", "").strip()
    steps: list[tuple[str, list[str]]] = [
        ("ruff check", ["ruff", "check", "."]),
        ("ruff format --check", ["ruff", "format", "--check", "."]),
        ("mypy", ["mypy", "."]),
        (
            "makemigrations --check",
            ["python", "manage.py", "makemigrations", "--check", "--dry-run"],
        ),
        ("dependency audit", ["python", "scripts/audit.py"]),
        ("invariants", ["pytest", "tests/test_invariants.py", "-q"]),
        ("pytest", ["pytest", "-q", *pytest_args]),
        ("smoke", ["python", "-m", "smoke"]),
    ]
    if only:
        if only != "pytest":
            die(f"PULSE_TEST_ONLY={only!r}: only 'pytest' is supported", 2)
        steps = [step for step in steps if step[0] == "pytest"]
    take_lease()
    term_with_parent()
    code = 0
    try:
        stack = up("test")
        env = child_env(stack)
        total = len(steps)
        for i, (name, cmd) in enumerate(steps, 1):
            exe = shutil.which(cmd[0], path=env["PATH"]) or cmd[0]
            print(f"==> [{i}/{total}] {name}: {shlex.join(cmd)}", flush=True)
            t0 = time.monotonic()
            rc = run_step([exe, *cmd[1:]], env)
            if rc != 0:
                print(
                    f"==> FAILED at step {i}/{total} ({name}) with exit code {rc} "
                    f"after {time.monotonic() - t0:.1f}s",
                    flush=True,
                )
                code = rc
                break
        else:
            print(f"==> gate OK: {total}/{total} steps", flush=True)
    except DevstackError as exc:
        log(f"ERROR: {exc}")
        code = 1
    finally:
        drop_lease()
        down_at_end(list(dict.fromkeys(STARTED)))
    return code


# --------------------------------------------------------------------------- main
USAGE = (
    "usage: devstack.py up [--test] | down | clean | exec [--test] -- CMD... | run"
    " | test [PYTEST ARGS...]"
)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    try:
        if cmd == "up":
            bad = [a for a in rest if a != "--test"]
            if bad:
                die(f"up: unexpected arguments {bad}\n{USAGE}", 2)
            stack = up(mode_from("--test" in rest), quiet=True)
            ports = load_json(PORTS_FILE)
            where = []
            if not os.environ.get("DATABASE_URL"):
                where.append(f"postgres 127.0.0.1:{ports.get('postgres')}")
            if (
                stack.env["REDIS_URL"].rsplit("/", 1)[0]
                == f"redis://127.0.0.1:{ports.get('redis')}"
            ):
                where.append(f"redis 127.0.0.1:{ports.get('redis')}")
            log(f"up ({stack.mode}): {', '.join(where) or 'external services'}; env in .run/env")
            return 0
        if cmd == "down":
            if rest:
                die(f"down takes no arguments\n{USAGE}", 2)
            down()
            return 0
        if cmd == "clean":
            if rest:
                die(f"clean takes no arguments\n{USAGE}", 2)
            clean()
            return 0
        if cmd == "exec":
            test = False
            while rest and rest[0] != "--":
                if rest[0] == "--test":
                    test = True
                    rest = rest[1:]
                else:
                    break
            if rest and rest[0] == "--":
                rest = rest[1:]
            if not rest:
                die(f"exec: no command given\n{USAGE}", 2)
            take_lease()  # the pid stays the same across exec: the lease lives as long as CMD
            stack = up(mode_from(test), quiet=True)
            env = child_env(stack)
            exe = shutil.which(rest[0], path=env["PATH"])
            if exe is None:
                drop_lease()
                die(f"exec: command not found: {rest[0]}", 127)
            sys.stdout.flush()
            sys.stderr.flush()
            os.execve(exe, rest, env)  # noqa: S606
        if cmd == "run":
            if rest:
                die(f"run takes no arguments\n{USAGE}", 2)
            return cmd_run()
        if cmd == "test":
            return cmd_test(rest)
    except DevstackError as exc:
        die(str(exc))
    except KeyboardInterrupt:
        return 130
    die(f"unknown command {cmd!r}\n{USAGE}", 2)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
