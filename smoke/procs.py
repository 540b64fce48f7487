"""The stack's processes: each in its own process group, logging to a file under
``.run/smoke/logs``, stopped as a group (TERM, then KILL)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from smoke import ROOT


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None


def start(name: str, args: list[str], env: dict[str, str], logs: Path) -> Proc:
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Proc(name, popen, log)


def stop(proc: Proc, timeout: float = 15) -> None:
    if proc.alive():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.popen.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.popen.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.popen.wait(timeout=5)


def run(name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
    """A one-off step (migrations, collectstatic); raises with the log's tail on failure."""
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        result = subprocess.run(
            args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out, check=False
        )
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{name} failed with exit code {result.returncode}:\n{tail}")


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    watch: list[Proc] | None = None,
    interval: float = 0.1,
) -> None:
    """Poll ``ready`` until it holds; fail at once if a watched process died."""
    deadline = time.monotonic() + timeout
    while not ready():
        for proc in watch or []:
            if not proc.alive():
                raise RuntimeError(
                    f"{proc.name} exited with {proc.popen.returncode} while waiting for "
                    f"{what}; see {proc.log}"
                )
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)
