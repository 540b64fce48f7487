"""The live stack for tests: real Celery workers, beat and daphne as subprocesses,
with the test environment (same database and Redis as the test process)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PULSE_DB_CONN_MAX_AGE", "60")
    env.update(extra or {})
    return env


WEB_ENV = {"PULSE_DB_POOL": "1"}  # as in production: daphne pools its connections


@contextmanager
def process(
    name: str,
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    ready: Callable[[], bool] | None = None,
    # Generous: a Django process starts in ~2 s on an idle machine, many times that on a
    # busy one, and a fast start costs nothing.
    timeout: float = 120,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``args`` in its own process group, logging to artifacts/<name>.log; stop
    the whole group afterwards (SIGTERM, then SIGKILL)."""
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / f"{name}.log").open("ab")
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env=_env(env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        if ready is not None:
            deadline = time.monotonic() + timeout
            while not ready():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}; see {log.name}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} not ready after {timeout}s; see {log.name}")
                time.sleep(0.1)
        yield proc
    finally:
        stop_group(proc)
        log.close()


def stop_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """kill -9 the process and every child it forked."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def celery_ping(name: str) -> Callable[[], bool]:
    from pulse.celery import app

    def ready() -> bool:
        replies = app.control.ping(destination=[name], timeout=0.5) or []
        return bool(replies)

    return ready


@contextmanager
def worker(
    name: str,
    *,
    queues: str = "checks,default,alerts,notifications",
    concurrency: int = 2,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    node = f"{name}@pulse-test"
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "pulse",
        "worker",
        "-n",
        node,
        "-Q",
        queues,
        "-c",
        str(concurrency),
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
    ]
    with process(f"worker-{name}", args, env=env, ready=celery_ping(node)) as proc:
        yield proc


@contextmanager
def beat(env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "pulse",
        "beat",
        "--loglevel",
        "INFO",
        "-s",
        str(ARTIFACTS / "celerybeat-schedule"),
    ]
    with process("beat", args, env=env) as proc:
        yield proc


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def daphne(env: dict[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=1) as response:  # noqa: S310
                return bool(response.status == 200)
        except OSError:
            return False

    args = [
        sys.executable,
        "-m",
        "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "pulse.asgi:application",
    ]
    with process("daphne", args, env={**WEB_ENV, **(env or {})}, ready=ready):
        yield base


def wait_for(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(interval)
