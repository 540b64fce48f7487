"""``python -m bench checks``: the check cycle under load, against a naive baseline.

Timeline of one run (everything is stopped and emptied again in ``finally``):

1. bench database + Redis db ready and empty; local target (nginx) started;
2. pulse phase: N HTTP monitors seeded (paused), Celery workers and beat started, the
   monitors unpaused so each is first due at now + lead + its phase; after the warm-up
   the measurement window of ``--duration`` seconds; then the results are drained
   and analysed;
3. naive phase: the same with ``--naive-monitors`` monitors in another org, a naive
   scheduler and a one-task-per-check worker, for ``--naive-duration`` seconds;
4. the JSON report (``--out``) and the key figures on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import env as bench_env
from bench import procs
from bench.procs import Proc, Selector
from bench.visibility import Visibility

LEAD_S = 5.0  # first due = activation + lead + phase
DRAIN_IDLE_S = 5.0  # stop waiting for stragglers after this long without progress
VISIBILITY_SAMPLE = 200  # monitors whose results are polled for commit visibility
DATABASE = ["pulse_bench"]  # the bench database's name, set by main()


@dataclass
class Run:
    """Everything the bench started, for the cleanup."""

    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> Proc:
        proc = procs.start(name, args, env)
        self.procs.append(proc)
        return proc

    def stop(self, *which: Proc) -> None:
        for proc in which or tuple(reversed(self.procs)):
            procs.stop(proc)
            if proc in self.procs:
                self.procs.remove(proc)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--monitors", type=int, default=10_000, help="pulse monitors (HTTP)")
    parser.add_argument("--interval", type=int, default=60, help="check interval, s")
    parser.add_argument("--timeout", type=int, default=10, help="probe timeout, s")
    parser.add_argument("--duration", type=float, default=180, help="measurement window, s")
    parser.add_argument(
        "--warmup", type=float, default=None, help="s before the window (default min(interval, 30))"
    )
    parser.add_argument(
        "--naive-monitors",
        type=int,
        default=None,
        help="naive baseline monitors (default: --monitors; 0 skips the baseline)",
    )
    parser.add_argument("--naive-duration", type=float, default=60, help="naive window, s")
    parser.add_argument("--naive-concurrency", type=int, default=8, help="naive prefork size")
    parser.add_argument(
        "--layout",
        choices=("split", "combined"),
        default="split",
        help="split: a solo worker for 'default' (the scheduler tick) and a worker for "
        "'checks'; combined: one worker for both queues",
    )
    parser.add_argument("--checks-pool", choices=("prefork", "threads", "solo"), default="prefork")
    parser.add_argument("--checks-concurrency", type=int, default=2)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the pulse processes, e.g. PULSE_CHECK_BATCH_SIZE=50",
    )
    parser.add_argument("--target", choices=("nginx", "aiohttp"), default="nginx")
    parser.add_argument("--target-workers", type=int, default=2, help="nginx worker processes")
    parser.add_argument(
        "--no-install", action="store_true", help="do not apt-get install nginx-light if missing"
    )
    parser.add_argument(
        "--no-request-log",
        action="store_true",
        help="no per-request log at the target (no probe_arrival_lag_ms)",
    )
    parser.add_argument(
        "--profile",
        type=float,
        default=0,
        metavar="SECONDS",
        help="py-spy the pulse workers and beat for this long from the window start",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120,
        metavar="SECONDS",
        help="before each phase, wait up to this long for other load to drop below "
        "0.25 cores (0: don't wait)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the monitor ids")
    parser.add_argument("--db-name", default="pulse_bench", help="the bench's own database")
    parser.add_argument("--redis-db", type=int, default=14, help="the bench's Redis database")
    parser.add_argument("--keep-data", action="store_true", help="do not empty the bench db")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is not met")
    parser.add_argument("--out", type=Path, default=bench_env.ARTIFACTS / "bench-checks.json")


# --------------------------------------------------------------------------- helpers
def utcnow() -> datetime:
    return datetime.now(UTC)


def sleep_until(when: datetime, alive: Callable[[], None] | None = None) -> None:
    while True:
        left = (when - utcnow()).total_seconds()
        if left <= 0:
            return
        if alive is not None:
            alive()
        time.sleep(min(left, 1.0))


def say(message: str) -> None:
    print(f"bench: {utcnow():%H:%M:%S} {message}", flush=True)


def celery_args(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "pulse", *args]


def worker_args(node: str, queues: str, pool: str, concurrency: int, *extra: str) -> list[str]:
    return celery_args(
        "worker",
        "-n",
        node,
        "-Q",
        queues,
        "-P",
        pool,
        "-c",
        str(concurrency),
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel",
        "WARNING",
        *extra,
    )


def celery_ready(node: str) -> Callable[[], bool]:
    from pulse.celery import app

    def ready() -> bool:
        return bool(app.control.ping(destination=[node], timeout=0.5))

    return ready


def ensure_alive(procs_: list[Proc]) -> Callable[[], None]:
    def check() -> None:
        for proc in procs_:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited ({proc.popen.returncode}); see {proc.log}")

    return check


def service_selectors() -> dict[str, Selector]:
    """postgres (postmaster, auxiliary processes, the bench database's backends) and
    redis of the private devstack services."""
    ds = bench_env.devstack()
    roles: dict[str, Selector] = {}
    if not os.environ.get("DATABASE_URL"):
        with suppress(OSError, ValueError, IndexError):
            postmaster = int((Path(ds.PG_DATA) / "postmaster.pid").read_text().split()[0])
            roles["postgres"] = procs.postgres_of(postmaster, DATABASE[0])
    with suppress(OSError, ValueError):
        roles["redis"] = procs.single(int(Path(ds.REDIS_PID).read_text().strip()))
    return roles


@contextmanager
def profiling(
    run: Run, targets: dict[str, int], seconds: float, env: dict[str, str]
) -> Iterator[None]:
    """py-spy record (raw collapsed stacks) of each pid and its subprocesses."""
    pyspy = shutil.which("py-spy", path=env.get("PATH")) or shutil.which(
        "py-spy", path=str(Path(sys.executable).parent)
    )
    started: list[Proc] = []
    if seconds > 0 and pyspy is None:
        say("--profile: py-spy not found (.venv/bin/python -m pip install py-spy); skipped")
    elif seconds > 0 and pyspy is not None:
        for role, pid in targets.items():
            out = bench_env.ARTIFACTS / f"bench-profile-{role}.txt"
            args = [pyspy, "record", "--pid", str(pid), "--subprocesses", "--nonblocking"]
            args += ["--rate", "50", "--format", "raw", "--duration", str(int(seconds))]
            started.append(run.start(f"pyspy-{role}", [*args, "--output", str(out)], env))
    try:
        yield
    finally:
        for proc in started:
            with suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=max(5.0, seconds + 10))
            run.stop(proc)


def wait_quiet(max_wait: float, threshold: float = 0.25, step: float = 5.0) -> dict[str, float]:
    """Wait (at most ``max_wait`` s) until the machine's other load is below
    ``threshold`` cores over ``step`` s: a test run of another developer on this
    2-core machine halves what the system under test can get."""
    began = time.monotonic()
    while True:
        busy0, _ = procs.machine_ticks()
        time.sleep(step)
        busy1, _ = procs.machine_ticks()
        cores = (busy1 - busy0) / procs.CLK_TCK / step
        waited = time.monotonic() - began
        if cores < threshold or waited >= max_wait:
            if cores >= threshold:
                say(f"machine still busy ({cores:.2f} cores used by others); measuring anyway")
            return {"waited_s": round(waited, 1), "busy_cores_before": round(cores, 2)}
        say(f"machine busy ({cores:.2f} cores); waiting for it to quieten")


# --------------------------------------------------------------------------- a phase
@dataclass
class Window:
    start: datetime
    end: datetime


def fetch_rows(org_id: Any, window: Window) -> list[tuple[Any, datetime, datetime, str]]:
    from django.db.models import Q

    from monitors.models import CheckResult
    from pulse import tenancy

    in_window = Q(due_at__gte=window.start, due_at__lt=window.end) | Q(
        ts__gte=window.start, ts__lt=window.end
    )
    # As the app role in the fleet's org: the system role only writes results.
    with tenancy.org_context(org_id):
        return list(
            CheckResult.objects.filter(in_window).values_list(
                "monitor_id", "due_at", "ts", "outcome"
            )
        )


def db_stats() -> dict[str, int]:
    """The bench database's cumulative counters (pg_stat_database)."""
    from django.db import connections

    from pulse.db import SYSTEM_DB

    columns = ("xact_commit", "xact_rollback", "tup_inserted", "tup_updated", "tup_fetched")
    with connections[SYSTEM_DB].cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(columns)} FROM pg_stat_database "  # noqa: S608 (constants)
            "WHERE datname = current_database()"
        )
        row = cursor.fetchone()
    return dict(zip(columns, (int(v) for v in row), strict=True))


def db_access() -> dict[str, int]:
    """Cumulative rows read per index (idx_tup_read) and per table by sequential scans
    (seq_tup_read) of the bench database: where the statements spend their reads."""
    from django.db import connections

    from pulse.db import SYSTEM_DB

    with connections[SYSTEM_DB].cursor() as cursor:
        cursor.execute(
            "SELECT 'index ' || indexrelname, idx_tup_read FROM pg_stat_user_indexes "
            "UNION ALL SELECT 'seqscan ' || relname, seq_tup_read FROM pg_stat_user_tables"
        )
        return {name: int(value or 0) for name, value in cursor.fetchall()}


def drain(
    org_id: Any, window: Window, expected: int, cap: float, alive: Callable[[], None]
) -> float:
    """Wait for the results of the window's due slots; return how long it took."""
    from monitors.models import CheckResult
    from pulse import tenancy

    began = time.monotonic()
    last, last_change = -1, time.monotonic()
    while True:
        alive()
        with tenancy.org_context(org_id):
            count = CheckResult.objects.filter(
                due_at__gte=window.start, due_at__lt=window.end
            ).count()
        now = time.monotonic()
        if count != last:
            last, last_change = count, now
        if count >= expected or now - last_change > DRAIN_IDLE_S or now - began > cap:
            return round(now - began, 1)
        time.sleep(0.5)


def measure(
    *,
    fleet: Any,
    run: Run,
    watched: list[Proc],
    roles: dict[str, Selector],
    warmup: float,
    duration: float,
    timeout: int,
    profile: dict[str, int] | None = None,
    profile_seconds: float = 0,
    env: dict[str, str],
    target: Any,
) -> dict[str, object]:
    """Activate the fleet, measure one window, drain, analyse."""
    from bench.analyze import analyze, expected_slots
    from bench.seed import activate
    from bench.target import read_request_log

    alive = ensure_alive(watched)
    ids = sorted(fleet.phase_ms, key=fleet.phase_ms.__getitem__)
    visibility = Visibility(
        ids[:: max(1, len(ids) // VISIBILITY_SAMPLE)], fleet.first_due, fleet.interval
    )
    visibility.start()
    try:
        with procs.Sampler(roles) as sampler:
            first_due_base = utcnow() + timedelta(seconds=LEAD_S)
            activate(fleet, first_due_base)
            window = Window(
                start=first_due_base + timedelta(seconds=warmup),
                end=first_due_base + timedelta(seconds=warmup + duration),
            )
            say(f"{fleet.label}: warm-up until {window.start:%H:%M:%S}, window of {duration:.0f} s")
            sleep_until(window.start, alive)
            sampler.begin()
            stats_before, access_before = db_stats(), db_access()
            with profiling(run, profile or {}, min(profile_seconds, duration), env):
                sleep_until(window.end, alive)
                usage = sampler.end()
            stats_after, access_after = db_stats(), db_access()
        expected = len(expected_slots(fleet, window.start, window.end))
        drained = drain(fleet.org_id, window, expected, cap=timeout + 20.0, alive=alive)
    finally:
        visibility.stop()
    rows = fetch_rows(fleet.org_id, window)
    requests = read_request_log(target.request_log)
    report = analyze(fleet, rows, start=window.start, end=window.end, requests=requests)
    report["drain_s"] = drained
    report["visible_lag_ms"] = visibility.report(window.start, window.end)
    # Per second of the window (statistics reach pg_stat_database within ~1 s).
    report["db_per_s"] = {
        key: round((stats_after[key] - stats_before[key]) / duration, 1) for key in stats_after
    }
    reads = {k: v - access_before.get(k, 0) for k, v in access_after.items()}
    report["db_reads_per_s_top"] = {
        k: round(v / duration, 1) for k, v in sorted(reads.items(), key=lambda kv: -kv[1])[:6]
    }
    report.update(usage)
    processes: dict[str, dict[str, float]] = usage["processes"]  # type: ignore[assignment]
    # Each role once (worker:<node> are parts of worker); the bench driver excluded.
    total_cpu = sum(
        p["cpu_s"] for name, p in processes.items() if name != "bench" and ":" not in name
    )
    done = float(report["checks_per_s_done"]) * duration  # type: ignore[arg-type]
    report["cpu_s_total"] = round(total_cpu, 1)
    report["cpu_ms_per_check"] = round(total_cpu * 1000 / done, 3) if done else None
    return report


def pulse_phase(
    args: argparse.Namespace, run: Run, env: dict[str, str], target: Any, warmup: float
) -> dict[str, object]:
    from bench.seed import pause, seed_fleet

    say(f"pulse: seeding {args.monitors} HTTP monitors")
    t0 = time.monotonic()
    fleet = seed_fleet(
        label="pulse",
        count=args.monitors,
        interval=args.interval,
        timeout=args.timeout,
        target_url=target.url,
        seed=args.seed,
    )
    seeded_s = round(time.monotonic() - t0, 1)
    pulse_env = dict(env)
    for item in args.set:
        key, _, value = item.partition("=")
        pulse_env[key] = value
    workers: list[Proc] = []
    if args.layout == "split":
        workers.append(
            run.start(
                "worker-default",
                worker_args("bench-default@bench", "default", "solo", 1),
                pulse_env,
            )
        )
        queues = "checks"
    else:
        queues = "checks,default"
    workers.append(
        run.start(
            "worker-checks",
            worker_args("bench-checks@bench", queues, args.checks_pool, args.checks_concurrency),
            pulse_env,
        )
    )
    for proc, node in zip(
        workers, ["bench-default@bench", "bench-checks@bench"][-len(workers) :], strict=True
    ):
        procs.wait_until(celery_ready(node), timeout=60, what=node, procs=[proc])
    beat = run.start(
        "beat",
        celery_args(
            "beat", "--loglevel", "WARNING", "-s", str(bench_env.RUN_DIR / "beat-schedule")
        ),
        pulse_env,
    )

    def beat_ready() -> bool:
        from django_celery_beat.models import PeriodicTask

        return PeriodicTask.objects.filter(task="monitors.tasks.schedule_tick").exists()

    procs.wait_until(beat_ready, timeout=60, what="beat", procs=[beat])
    say(f"pulse: {len(workers)} worker(s) and beat up (seeding took {seeded_s} s)")
    roles: dict[str, Selector] = {
        "beat": procs.by_group(beat.pid),
        "worker": procs.by_groups([w.pid for w in workers]),
        **{f"worker:{w.name.removeprefix('worker-')}": procs.by_group(w.pid) for w in workers},
        **service_selectors(),
        "target": procs.by_group(target.proc.pid),
        "bench": procs.single(os.getpid()),
    }
    profile = {w.name: w.pid for w in workers} | {"beat": beat.pid}
    quiet = wait_quiet(args.quiet_wait) if args.quiet_wait > 0 else None
    try:
        report = measure(
            fleet=fleet,
            run=run,
            watched=[*workers, beat, target.proc],
            roles=roles,
            warmup=warmup,
            duration=args.duration,
            timeout=args.timeout,
            profile=profile,
            profile_seconds=args.profile,
            env=env,
            target=target,
        )
    finally:
        run.stop(beat, *workers)
    # Only now: an org-wide UPDATE while the workers lock monitors in id order (the
    # recorder) can deadlock with them (seen at 30,000 monitors).
    pause(fleet)
    report["seed_s"] = seeded_s
    report["quiet_wait"] = quiet
    return report


def naive_phase(
    args: argparse.Namespace, run: Run, env: dict[str, str], target: Any, warmup: float
) -> dict[str, object]:
    from bench.seed import seed_fleet

    say(f"naive: seeding {args.naive_monitors} HTTP monitors")
    fleet = seed_fleet(
        label="naive",
        count=args.naive_monitors,
        interval=args.interval,
        timeout=args.timeout,
        target_url=target.url,
        seed=args.seed,
    )
    quiet = wait_quiet(args.quiet_wait) if args.quiet_wait > 0 else None
    worker = run.start(
        "worker-naive",
        worker_args(
            "bench-naive@bench",
            "naive",
            "prefork",
            args.naive_concurrency,
            "--include",
            "bench.naive_tasks",
        ),
        env,
    )
    procs.wait_until(celery_ready("bench-naive@bench"), timeout=60, what="naive worker")
    until = time.time() + LEAD_S + warmup + args.naive_duration + args.timeout + 30
    sched = run.start(
        "naive-sched",
        [sys.executable, "-m", "bench.naive_sched", "--until", str(until), str(fleet.org_id)],
        env,
    )
    roles: dict[str, Selector] = {
        "scheduler": procs.by_group(sched.pid),
        "worker": procs.by_group(worker.pid),
        **service_selectors(),
        "target": procs.by_group(target.proc.pid),
        "bench": procs.single(os.getpid()),
    }
    try:
        report = measure(
            fleet=fleet,
            run=run,
            watched=[worker, sched, target.proc],
            roles=roles,
            warmup=warmup,
            duration=args.naive_duration,
            timeout=args.timeout,
            env=env,
            target=target,
        )
    finally:
        run.stop(sched, worker)
    report["quiet_wait"] = quiet
    return report


# --------------------------------------------------------------------------- report
def _ratio(a: object, b: object) -> float | None:
    if isinstance(a, int | float) and isinstance(b, int | float) and b:
        return round(a / b, 2)
    return None


def ratios(pulse: dict[str, Any], naive: dict[str, Any] | None) -> dict[str, object]:
    if not naive:
        return {}
    return {
        "checks_per_s_done_pulse_over_naive": _ratio(
            pulse["checks_per_s_done"], naive["checks_per_s_done"]
        ),
        "lag_p99_naive_over_pulse": _ratio(naive["lag_ms"]["p99"], pulse["lag_ms"]["p99"]),
        "lag_p99_done_in_window_naive_over_pulse": _ratio(
            naive["lag_ms_done_in_window"]["p99"], pulse["lag_ms_done_in_window"]["p99"]
        ),
        "cpu_per_check_naive_over_pulse": _ratio(
            naive["cpu_ms_per_check"], pulse["cpu_ms_per_check"]
        ),
        "equal_due_load": pulse["checks_per_s_due"] == naive["checks_per_s_due"],
    }


def summary(report: dict[str, Any]) -> str:
    lines = []
    for name in ("pulse", "naive"):
        part = report.get(name)
        if not part:
            continue
        lag, arrival = part["lag_ms"], part["probe_arrival_lag_ms"]
        visible = part["visible_lag_ms"]
        procs_ = ", ".join(
            f"{role} {p['cpu_s']} s/{p['peak_rss_mib']} MiB"
            for role, p in part["processes"].items()
        )
        lines += [
            f"{name}: {part['monitors']} monitors, due {part['checks_per_s_due']}/s, "
            f"done {part['checks_per_s_done']}/s over {part['window_s']} s; "
            f"missed {part['missed']}, duplicates {part['duplicates']}, "
            f"outcomes {part['outcomes']}",
            f"  lag ms (ts - due_at): p50 {lag['p50']} p95 {lag['p95']} p99 {lag['p99']} "
            f"max {lag['max']}; of the results done in the window: p99 "
            f"{part['lag_ms_done_in_window']['p99']} max {part['lag_ms_done_in_window']['max']}",
            f"  probe arrival at target - due_at, ms: p50 {arrival['p50']} p95 {arrival['p95']} "
            f"p99 {arrival['p99']} max {arrival['max']}",
            f"  visible (committed) - due_at, ms, {visible['samples']} samples: "
            f"p50 {visible['p50']} p95 {visible['p95']} p99 {visible['p99']} max {visible['max']}",
            f"  CPU s / peak RSS: {procs_}; machine busy "
            f"{part['machine_cpu']['busy_fraction']:.0%}; "
            f"{part['cpu_ms_per_check']} CPU ms per check; "
            f"other processes {part['machine_cpu']['other_processes_cpu_s']} CPU s",
            f"  database per s: {part['db_per_s']}",
            f"  most rows read per s: {part['db_reads_per_s_top']}",
        ]
    if report.get("ratios"):
        lines.append(f"ratios: {report['ratios']}")
    lines.append(f"goals: {report['goals']}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main
def main(args: argparse.Namespace) -> int:
    if args.db_name in ("pulse", "pulse_test"):
        raise SystemExit("--db-name must not be a developer database (it is emptied)")
    if args.naive_monitors is None:
        args.naive_monitors = args.monitors
    warmup = args.warmup if args.warmup is not None else min(float(args.interval), 30.0)
    DATABASE[0] = args.db_name
    original = bench_env.prepare_environ(db_name=args.db_name, redis_db=args.redis_db)
    if bench_env.ensure_database(args.db_name, original["PULSE_DB_OWNER_URL"]):
        say(f"created database {args.db_name}")
    bench_env.RUN_DIR.mkdir(parents=True, exist_ok=True)

    import django

    django.setup()
    from django.core.management import call_command

    from bench.machine import machine_info
    from bench.target import start_target
    from pulse.db.partitions import ensure_partitions

    env = dict(os.environ)
    run = Run()

    def on_term(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    started = time.monotonic()
    try:
        call_command("setup_db", verbosity=0)
        bench_env.empty_database()
        ensure_partitions("check_results", days_back=1, days_ahead=2)
        bench_env.flush_redis()
        target = start_target(
            env,
            prefer=args.target,
            install=not args.no_install,
            workers=args.target_workers,
            request_log=not args.no_request_log,
            started=run.procs,
        )
        say(f"target: {target.kind} at {target.url}")
        from django.conf import settings

        config = {
            "monitors": args.monitors,
            "interval_s": args.interval,
            "timeout_s": args.timeout,
            "duration_s": args.duration,
            "warmup_s": warmup,
            "naive_monitors": args.naive_monitors,
            "naive_duration_s": args.naive_duration,
            "naive_worker": f"prefork -c {args.naive_concurrency}",
            "layout": args.layout,
            "checks_worker": f"{args.checks_pool} -c {args.checks_concurrency}",
            "default_worker": "solo" if args.layout == "split" else "(shared)",
            "env": dict(item.partition("=")[::2] for item in args.set),
            "settings": {
                "CHECK_BATCH_SIZE": settings.CHECK_BATCH_SIZE,
                "CHECK_MAX_BATCHES_PER_TICK": settings.CHECK_MAX_BATCHES_PER_TICK,
                "CHECK_LOOKAHEAD_SECONDS": settings.CHECK_LOOKAHEAD_SECONDS,
                "CHECK_LEASE_GRACE": settings.CHECK_LEASE_GRACE,
            },
            "target": target.kind,
            "database": args.db_name,
            "redis_db": args.redis_db,
        }
        report: dict[str, Any] = {"machine": machine_info(target.version), "config": config}
        report["pulse"] = pulse_phase(args, run, env, target, warmup)
        if args.naive_monitors > 0:
            report["naive"] = naive_phase(args, run, env, target, warmup)
        report["ratios"] = ratios(report["pulse"], report.get("naive"))
        pulse = report["pulse"]
        report["goals"] = {
            "lag_p99_ms<=1000": pulse["lag_ms"]["p99"] is not None
            and pulse["lag_ms"]["p99"] <= 1000,
            "missed==0": pulse["missed"] == 0,
            "duplicates==0": pulse["duplicates"] == 0,
        }
        report["wall_s"] = round(time.monotonic() - started, 1)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(summary(report), flush=True)
        say(f"report written to {args.out}")
        return 1 if args.strict and not all(report["goals"].values()) else 0
    except KeyboardInterrupt:
        say("interrupted; cleaning up")
        return 130
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        run.stop()
        if not args.keep_data:
            from django.db import connections

            try:
                bench_env.empty_database()
                bench_env.flush_redis()
            finally:
                connections.close_all()
        signal.signal(signal.SIGINT, signal.default_int_handler)
