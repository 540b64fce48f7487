"""Subprocesses of the bench (each in its own process group, logging to
artifacts/bench-<name>.log) and a /proc sampler for CPU seconds and RSS per role."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.env import ARTIFACTS, ROOT

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None


def start(name: str, args: list[str], env: dict[str, str]) -> Proc:
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / f"bench-{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own group: Ctrl-C reaches only the bench, which stops it
        )
    return Proc(name, popen, log)


def stop(proc: Proc, timeout: float = 15) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left of it."""
    if proc.popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.popen.wait(timeout=5)


def wait_until(
    ready: Callable[[], bool], *, timeout: float, what: str, procs: list[Proc] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        for proc in procs or []:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited ({proc.popen.returncode}); see {proc.log}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.2)


# ------------------------------------------------------------------------ /proc sampling
@dataclass(frozen=True)
class ProcInfo:
    pid: int
    ppid: int
    pgrp: int
    ticks: int  # utime + stime
    rss: int  # bytes


ProcTable = dict[int, ProcInfo]
Selector = Callable[[ProcTable], set[int]]


def read_proc_table() -> ProcTable:
    table: ProcTable = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                raw = fh.read().decode(errors="replace")
        except OSError:
            continue
        rest = raw.rsplit(")", 1)[1].split()
        # Fields after "(comm)": state ppid pgrp ... utime(14) stime(15) ... rss(24).
        pid = int(entry.name)
        table[pid] = ProcInfo(
            pid=pid,
            ppid=int(rest[1]),
            pgrp=int(rest[2]),
            ticks=int(rest[11]) + int(rest[12]),
            rss=int(rest[21]) * PAGE_SIZE,
        )
    return table


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already part of user
    return total - idle, total


def by_group(pgid: int) -> Selector:
    return lambda table: {p.pid for p in table.values() if p.pgrp == pgid}


def by_groups(pgids: list[int]) -> Selector:
    wanted = set(pgids)
    return lambda table: {p.pid for p in table.values() if p.pgrp in wanted}


def _title(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def postgres_of(postmaster: int | None, database: str) -> Selector:
    """The postmaster, its shared auxiliary processes (checkpointer, WAL writer, ...)
    and the backends of ``database`` only: not another database's sessions (a test
    run on the same server, say)."""
    titles: dict[tuple[int, int], str] = {}

    def wanted(pid: int, info: ProcInfo) -> bool:
        key = (pid, info.ppid)
        title = titles.get(key)
        if title is None:
            title = titles[key] = _title(pid)
        if f" {database} " in f"{title} ":
            return True
        return "(" not in title and "autovacuum worker" not in title

    def select(table: ProcTable) -> set[int]:
        if postmaster is None or postmaster not in table:
            return set()
        return {postmaster} | {
            p.pid for p in table.values() if p.ppid == postmaster and wanted(p.pid, p)
        }

    return select


def single(pid: int | None) -> Selector:
    return lambda table: {pid} if pid is not None and pid in table else set()


@dataclass
class _Role:
    select: Selector
    base: dict[int, int] = field(default_factory=dict)  # pid -> ticks at window start
    last: dict[int, int] = field(default_factory=dict)  # pid -> latest ticks
    peak_rss: int = 0


class Sampler:
    """Samples every ``period`` seconds in a thread. ``begin()`` starts a window (CPU
    counted from there, peaks reset), ``end()`` closes it and returns per role
    ``{"cpu_s", "peak_rss_mib"}`` plus the machine's CPU utilisation."""

    def __init__(self, roles: dict[str, Selector], period: float = 1.0) -> None:
        self.roles = {name: _Role(select) for name, select in roles.items()}
        self.period = period
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-sampler", daemon=True)
        self._machine_base: tuple[int, int] | None = None
        self._window_start = 0.0

    def __enter__(self) -> Sampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            self.sample()

    def sample(self) -> None:
        table = read_proc_table()
        with self._lock:
            for role in self.roles.values():
                pids = role.select(table)
                rss = 0
                for pid in pids:
                    info = table[pid]
                    role.last[pid] = info.ticks
                    rss += info.rss
                role.peak_rss = max(role.peak_rss, rss)

    def begin(self) -> None:
        self.sample()
        with self._lock:
            for role in self.roles.values():
                role.base = dict(role.last)
                role.peak_rss = 0
            self._machine_base = machine_ticks()
            self._window_start = time.monotonic()
        self.sample()  # the RSS peak of the window starts with the current RSS

    def end(self) -> dict[str, object]:
        self.sample()
        with self._lock:
            elapsed = time.monotonic() - self._window_start
            busy, total = machine_ticks()
            base_busy, base_total = self._machine_base or (busy, total)
            out: dict[str, object] = {}
            ours: dict[int, int] = {}
            for name, role in self.roles.items():
                ticks = sum(t - role.base.get(pid, 0) for pid, t in role.last.items())
                ours.update({pid: t - role.base.get(pid, 0) for pid, t in role.last.items()})
                out[name] = {
                    "cpu_s": round(ticks / CLK_TCK, 2),
                    "cpu_util": round(ticks / CLK_TCK / elapsed, 3) if elapsed else None,
                    "peak_rss_mib": round(role.peak_rss / 2**20, 1),
                }
            busy_s = (busy - base_busy) / CLK_TCK
            machine = {
                "busy_fraction": round((busy - base_busy) / max(1, total - base_total), 3),
                "busy_cpu_s": round(busy_s, 1),
                # Everything else on the machine (another developer's test run, say):
                # a run with much of it is not a clean measurement.
                "other_processes_cpu_s": round(busy_s - sum(ours.values()) / CLK_TCK, 1),
                "elapsed_s": round(elapsed, 1),
            }
        return {"processes": out, "machine_cpu": machine}
