"""``python -m bench.faults`` (``make faults``): faults survived, measured.

A private PostgreSQL and Redis (``bench/fault_stack.py``), the Pulse processes as
``make run`` lays them out (checks worker, worker for default/alerts/notifications,
beat, daphne), N HTTP monitors at 60 s against a local nginx, notifications kept in
flight to a signed-webhook receiver, heartbeat pings and health requests on daphne.
Then, one after another: kill -9 of each process kind (restarted at once, as a
supervisor would), Redis restarted 5 times and PostgreSQL 3 times. Afterwards it counts
missed and duplicate check results, lost and duplicate webhook effects, and the
recovery time of each fault. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import env as bench_env
from bench import procs
from bench.fault_report import Fault

LEAD_S = 5.0  # first due = activation + lead + phase
KILLS = ("checks", "worker", "beat", "daphne")


def say(message: str) -> None:
    print(f"faults: {datetime.now(UTC):%H:%M:%S} {message}", flush=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--monitors", type=int, default=10_000, help="HTTP monitors")
    parser.add_argument("--interval", type=int, default=60, help="check interval, s")
    parser.add_argument("--timeout", type=int, default=5, help="probe timeout, s")
    parser.add_argument(
        "--notifications", type=int, default=1000, help="notifications kept in flight"
    )
    parser.add_argument(
        "--outbox-hold",
        type=float,
        default=60,
        help="s each notification stays in flight (the receiver defers it with 429 "
        "Retry-After until then)",
    )
    parser.add_argument("--receiver-hold", type=float, default=1.0, help="s per accepted request")
    parser.add_argument("--push-monitors", type=int, default=20, help="heartbeat monitors pinged")
    parser.add_argument("--ping-rate", type=float, default=10, help="requests/s to daphne")
    parser.add_argument("--kills", default=",".join(KILLS), help="process kinds to kill -9")
    parser.add_argument("--redis-restarts", type=int, default=5)
    parser.add_argument("--postgres-restarts", type=int, default=3)
    parser.add_argument("--spacing", type=float, default=30, help="s from a fault to the next")
    parser.add_argument(
        "--recovery-timeout", type=float, default=90, help="s to wait for a fault's recovery"
    )
    parser.add_argument("--target", choices=("nginx", "aiohttp"), default="nginx")
    parser.add_argument("--no-install", action="store_true", help="do not apt-get nginx-light")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db-name", default="pulse_faults")
    parser.add_argument("--redis-db", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="keep .run/faults/stack-* after")
    parser.add_argument("--out", type=Path, default=bench_env.ARTIFACTS / "faults.json")


# ------------------------------------------------------------------------ processes
@dataclass
class Component:
    """One process kind: how to start it and how to know it serves."""

    kind: str
    args: list[str]
    env: dict[str, str]
    node: str | None = None  # celery node name (ping-able)
    http_port: int | None = None
    proc: procs.Proc | None = None
    generation: int = 0

    def start(self) -> procs.Proc:
        self.generation += 1
        self.proc = procs.start(f"faults-{self.kind}-{self.generation}", self.args, self.env)
        return self.proc

    def ready(self) -> bool:
        if self.node is not None:
            from bench.checks import celery_ready

            return celery_ready(self.node)()
        if self.http_port is not None:
            import urllib.request

            try:
                url = f"http://127.0.0.1:{self.http_port}/api/health"
                with urllib.request.urlopen(url, timeout=2) as response:
                    return bool(response.status == 200)
            except OSError:
                return False
        return self.proc is not None and self.proc.alive()

    def wait_ready(self, timeout: float = 60) -> None:
        procs.wait_until(self.ready, timeout=timeout, what=self.kind, procs=self._procs())

    def kill9(self) -> None:
        for proc in self._procs():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the whole group: pool children too
            proc.popen.wait(timeout=10)

    def _procs(self) -> list[procs.Proc]:
        return [self.proc] if self.proc is not None else []


def components(env: dict[str, str], web_port: int) -> dict[str, Component]:
    from bench.checks import celery_args, worker_args

    cores = str(os.cpu_count() or 2)
    web_env = {**env, "PULSE_DB_POOL": "1"}
    daphne = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(web_port)]
    return {
        "checks": Component(
            "checks",
            worker_args("checks@faults", "checks", "prefork", int(cores)),
            env,
            node="checks@faults",
        ),
        "worker": Component(
            "worker",
            worker_args("worker@faults", "default,alerts,notifications", "prefork", 2),
            env,
            node="worker@faults",
        ),
        "beat": Component("beat", celery_args("beat", "--loglevel", "WARNING"), env),
        "daphne": Component(
            "daphne", [*daphne, "pulse.asgi:application"], web_env, http_port=web_port
        ),
    }


# ------------------------------------------------------------------------ seeding
@dataclass
class Ops:
    """The second org: the webhook channel and the heartbeat monitors."""

    org_id: uuid.UUID
    channel_id: uuid.UUID
    ping_paths: list[str]
    secret: str


def seed_ops(receiver_url: str, push_monitors: int, interval: int, seed: int) -> Ops:
    import base64
    import secrets

    from accounts.audit import Actor
    from accounts.models import Role
    from accounts.services import user_signup
    from monitors.services import monitor_create
    from notifications.services import channel_create
    from pulse import tenancy

    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    user, org = user_signup(
        email=f"faults-ops-{seed}@bench.pulse.local",
        password="faults-password-not-secret-4711",  # noqa: S106 (throwaway bench account)
        name="Faults",
        org_name="Faults ops",
    )
    actor = Actor(user=user)
    with tenancy.org_context(org.id, user_id=user.id):
        channel = channel_create(
            actor=actor,
            role=Role.OWNER,
            data={
                "kind": "webhook",
                "name": "fault receiver",
                "secrets": {"url": receiver_url, "secret": secret},
            },
        )
        pushes = [
            monitor_create(
                actor=actor,
                data={
                    "name": f"heartbeat {i}",
                    "type": "push",
                    "interval_seconds": interval,
                    "config": {"grace_seconds": interval},
                },
            )
            for i in range(push_monitors)
        ]
    paths = [f"/v1/ingest/heartbeat/{m.heartbeat_token}" for m in pushes]
    return Ops(org_id=org.id, channel_id=channel.id, ping_paths=paths, secret=secret)


# ------------------------------------------------------------------------ the run
@dataclass
class Run:
    args: argparse.Namespace
    env: dict[str, str]
    stack: Any
    comps: dict[str, Component] = field(default_factory=dict)
    others: list[procs.Proc] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    exits: list[dict[str, Any]] = field(default_factory=list)  # exits nobody asked for

    def alive_check(self) -> None:
        for proc in self.others:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited; see {proc.log}")
        # A Pulse process that exits by itself is a finding; it is restarted as a
        # supervisor (compose's restart policy, Kubernetes) would, and the run goes on.
        for comp in self.comps.values():
            if comp.proc is not None and not comp.proc.alive():
                self.exits.append(
                    {
                        "kind": comp.kind,
                        "at": time.time(),
                        "returncode": comp.proc.popen.returncode,
                        "log": str(comp.proc.log),
                    }
                )
                say(f"{comp.kind} exited by itself ({comp.proc.popen.returncode}); restarting")
                comp.kill9()  # what is left of its group
                comp.start()

    def inject(self, kind: str) -> Fault:
        at = time.time()
        note = ""
        if kind.startswith("kill-"):
            comp = self.comps[kind.removeprefix("kill-")]
            comp.kill9()
            comp.start()  # a supervisor restarts it at once
            comp.wait_ready(timeout=self.args.recovery_timeout)
        elif kind == "restart-redis":
            note = f"down {self.stack.restart_redis():.2f} s"
        elif kind == "restart-postgres":
            note = f"down {self.stack.restart_postgres():.2f} s"
        fault = Fault(kind=kind, at=at, restored_at=time.time(), note=note)
        self.faults.append(fault)
        return fault


def plan(args: argparse.Namespace) -> list[str]:
    kinds = [k.strip() for k in args.kills.split(",") if k.strip()]
    unknown = set(kinds) - set(KILLS)
    if unknown:
        raise SystemExit(f"--kills: unknown {sorted(unknown)}; choose from {','.join(KILLS)}")
    return (
        [f"kill-{k}" for k in kinds]
        + ["restart-redis"] * args.redis_restarts
        + ["restart-postgres"] * args.postgres_restarts
    )


def recovered(fault: Fault, org_id: uuid.UUID, claim_ahead: float, log: Path, pinger: Any) -> bool:
    """The check cycle recorded a slot claimed after the fault, the receiver accepted a
    delivery after it, and daphne answered a request sent after it."""
    from django.db import connections

    from monitors.models import CheckResult
    from pulse import tenancy

    try:
        with tenancy.org_context(org_id):
            checks = CheckResult.objects.filter(
                ts__gt=datetime.fromtimestamp(fault.at, UTC),
                due_at__gte=datetime.fromtimestamp(fault.at + claim_ahead, UTC),
            ).exists()
    except Exception:  # the driver's own connection died with PostgreSQL
        connections.close_all()
        return False
    delivered = False
    with contextlib.suppress(OSError), log.open("rb") as fh:
        fh.seek(max(0, log.stat().st_size - 32_768))
        for line in fh.read().splitlines()[1:]:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                delivered = delivered or (entry.get("status") == 204 and entry["t"] > fault.at)
    return checks and delivered and pinger.last_ok_after(fault.at) is not None


def drain(fleet: Any, start: float, end: float, cap: float) -> None:
    """Wait until every slot due in [start, end) has a result, or no progress for 10 s."""
    from bench.analyze import expected_slots
    from monitors.models import CheckResult
    from pulse import tenancy

    expected = len(expected_slots(fleet, datetime.fromtimestamp(start, UTC), _utc(end)))
    began, last, changed = time.monotonic(), -1, time.monotonic()
    while time.monotonic() - began < cap:
        with tenancy.org_context(fleet.org_id):
            count = (
                CheckResult.objects.filter(due_at__gte=_utc(start), due_at__lt=_utc(end))
                .values("monitor_id", "due_at")
                .distinct()
                .count()
            )
        if count >= expected:
            return
        if count != last:
            last, changed = count, time.monotonic()
        elif time.monotonic() - changed > 10:
            return
        time.sleep(1)


def _utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def outbox_settled(org_id: uuid.UUID) -> bool:
    from notifications.models import Notification

    return not Notification.all_orgs.filter(
        org_id=org_id, status__in=["pending", "sending", "failed"]
    ).exists()


def execute(args: argparse.Namespace, run: Run) -> dict[str, Any]:
    from django.conf import settings
    from django.core.management import call_command

    from bench import fault_report as fr
    from bench import target as bench_target
    from bench.fault_traffic import Pinger, Producer
    from bench.machine import machine_info
    from bench.seed import activate, seed_fleet
    from monitors.models import CheckResult
    from notifications.models import Notification
    from pulse import tenancy
    from pulse.db.partitions import ensure_partitions

    started = time.monotonic()
    call_command("setup_db", verbosity=0)
    ensure_partitions("check_results", days_back=1, days_ahead=2)
    # The probe target's files go to the suite's folder, not the check bench's.
    bench_target.RUN_DIR = run.stack.folder / "target"
    target = bench_target.start_target(
        run.env,
        prefer=args.target,
        install=not args.no_install,
        workers=2,
        request_log=False,
        started=run.others,
    )
    receiver_port, web_port = bench_target.free_port(), bench_target.free_port()
    say(f"seeding {args.monitors} HTTP monitors, {args.push_monitors} heartbeat monitors")
    fleet = seed_fleet(
        label="faults",
        count=args.monitors,
        interval=args.interval,
        timeout=args.timeout,
        target_url=target.url,
        seed=args.seed,
    )
    ops = seed_ops(
        f"http://127.0.0.1:{receiver_port}/hook", args.push_monitors, args.interval, args.seed
    )
    log_path = bench_env.ARTIFACTS / "faults-receiver.jsonl"
    log_path.unlink(missing_ok=True)
    receiver_args = [sys.executable, "-m", "bench.fault_receiver", str(receiver_port)]
    receiver_args += [str(log_path), "--hold", str(args.receiver_hold)]
    run.others.append(
        procs.start(
            "faults-receiver", receiver_args, {**run.env, "BENCH_WEBHOOK_SECRET": ops.secret}
        )
    )
    from django.db import connections

    connections.close_all()
    run.comps = components(run.env, web_port)
    for name in ("checks", "worker", "daphne", "beat"):
        run.comps[name].start()
    for comp in run.comps.values():
        comp.wait_ready()
    pids = ", ".join(f"{c.kind} pid {c.proc.pid}" for c in run.comps.values() if c.proc)
    say(f"processes up: {pids}")

    claim_ahead = settings.CHECK_LOOKAHEAD_SECONDS + 1.0
    first_due = datetime.now(UTC) + timedelta(seconds=LEAD_S)
    activate(fleet, first_due)
    start = first_due.timestamp()
    pinger = Pinger(web_port, ops.ping_paths, args.ping_rate)
    pinger.start()
    producer = Producer(
        org_id=ops.org_id,
        channel_id=ops.channel_id,
        in_flight=args.notifications,
        hold=args.outbox_hold,
        until=float("inf"),
    )
    producer.start()
    # Every monitor probed once, and the outbox full, before the first fault.
    warm_until = start + max(args.interval, args.outbox_hold) + 2
    say(f"warm-up until {_utc(warm_until):%H:%M:%S}")
    _sleep_until(warm_until, run)
    in_flight_at: list[int] = []
    next_at = time.time()
    for kind in plan(args):
        _sleep_until(next_at, run)
        effects = sum(1 for e in fr.read_receiver_log(log_path) if e.get("effect"))
        in_flight_at.append(producer.written - effects)
        fault = run.inject(kind)
        say(f"{kind}: restored after {fault.restored_at - fault.at:.2f} s {fault.note}")
        deadline = time.time() + args.recovery_timeout
        while time.time() < deadline and not recovered(
            fault, fleet.org_id, claim_ahead, log_path, pinger
        ):
            run.alive_check()
            time.sleep(0.5)
        next_at = fault.at + args.spacing
    last_repair = max(f.restored_at for f in run.faults) if run.faults else time.time()
    producer.until = time.time()
    producer.stop()
    end = last_repair + args.interval
    say(f"after the last fault: one interval, until {_utc(end):%H:%M:%S}, then the drain")
    _sleep_until(end, run)
    drain(fleet, start, end, cap=args.timeout + settings.CHECK_LEASE_GRACE + 20)
    cap = time.time() + args.outbox_hold + settings.NOTIFY_LEASE_SECONDS + 30
    while time.time() < cap and not outbox_settled(ops.org_id):
        run.alive_check()
        time.sleep(1)
    pinger.stop()
    for comp in run.comps.values():
        if comp.proc is not None:
            procs.stop(comp.proc)

    # Results are read as the app role in the fleet's org: the system role only writes them.
    with tenancy.org_context(fleet.org_id):
        rows = list(
            CheckResult.objects.filter(due_at__gte=_utc(start - 1)).values_list(
                "monitor_id", "due_at", "ts"
            )
        )
    created = dict(
        Notification.all_orgs.filter(org_id=ops.org_id).values_list("idempotency_key", "event_id")
    )
    statuses: dict[str, int] = {}
    for status in Notification.all_orgs.filter(org_id=ops.org_id).values_list("status", flat=True):
        statuses[status] = statuses.get(status, 0) + 1
    log = fr.read_receiver_log(log_path)
    report: dict[str, Any] = {
        "machine": machine_info(target.version),
        "config": {
            "monitors": args.monitors,
            "interval_s": args.interval,
            "timeout_s": args.timeout,
            "notifications_in_flight": args.notifications,
            "outbox_hold_s": args.outbox_hold,
            "receiver_hold_s": args.receiver_hold,
            "push_monitors": args.push_monitors,
            "ping_rate": args.ping_rate,
            "spacing_s": args.spacing,
            "faults": plan(args),
            "database": args.db_name,
            "redis_db": args.redis_db,
            "target": target.kind,
            "processes": {k: " ".join(c.args[2:]) for k, c in run.comps.items()},
        },
        "checks": fr.check_figures(
            fleet, rows, run.faults, start=start, end=end, interval=args.interval
        ),
        "notifications": {
            **fr.notification_figures({k: str(v) for k, v in created.items()}, log, statuses),
            "producer": {
                "written": producer.written,
                "enqueue_failed": producer.enqueue_failed,
                "write_failed": producer.write_failed,
                "errors": producer.errors,
            },
        },
        "requests": fr.request_figures(pinger.requests),
        "faults": fr.recovery(run.faults, rows, log, pinger.requests, claim_ahead=claim_ahead),
        "unexpected_exits": run.exits,
    }
    for fault, count in zip(report["faults"], in_flight_at, strict=True):
        fault["notifications_in_flight"] = count
    report["wall_s"] = round(time.monotonic() - started, 1)
    report["goals"] = fr.goals(report)
    return report


def _sleep_until(when: float, run: Run) -> None:
    while (left := when - time.time()) > 0:
        run.alive_check()
        time.sleep(min(left, 1.0))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    plan(args)
    from bench.fault_stack import Stack

    def on_term(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    stack = Stack.create(db_name=args.db_name, redis_db=args.redis_db)
    run: Run | None = None
    try:
        say(f"private PostgreSQL and Redis in {stack.folder.relative_to(bench_env.ROOT)}")
        stack.start()
        os.environ.update(stack.env)
        import django

        django.setup()
        run = Run(args=args, env=dict(stack.env), stack=stack)
        report = execute(args, run)
        from bench.fault_report import summary

        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(summary(report), flush=True)
        say(f"report written to {args.out}")
        return 0 if all(report["goals"].values()) else 1
    except KeyboardInterrupt:
        say("interrupted; cleaning up")
        return 130
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if run is not None:
            for comp in run.comps.values():
                if comp.proc is not None:
                    procs.stop(comp.proc)
            for proc in run.others:
                procs.stop(proc)
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if args.keep:
            say(f"kept {stack.folder}")
        else:
            stack.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
