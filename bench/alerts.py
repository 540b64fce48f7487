"""``python -m bench.alerts``: alert latency with the real scheduler and workers.

For each trial a monitor's target switches to failing. We measure, from the N-th
failing probe (its result's timestamp, which is also the incident's ``opened_at``):

- ``incident_ms``: until the incident row is visible to another connection (polled
  every 5 ms from this process, so the figure includes up to 5 ms of polling);
- ``webhook_ms``: until the signed ``monitor.down`` webhook reaches a receiver on
  loopback (the notifier's full path: outbox row, enqueue after commit, claim, send).

Then the target recovers, the incident resolves, and the next trial starts. Monitors
run at a 1 s interval (set directly; the product's minimum is 10 s) so 100 trials take
about two minutes. Goals: incident p99 ≤ 250 ms (issue), webhook p50 ≤ 0.5 s and
p99 ≤ 2 s (SPEC §13). Writes artifacts/bench-alerts.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

from bench import env as bench_env
from bench import procs

PASSWORD = "bench-password-123"  # noqa: S105 - a throwaway bench account
DB_NAME = "pulse_bench_alerts"
REDIS_DB = 12


class Target:
    """Per-monitor toggles (/t/<i>) and a webhook receiver (/hook), in a thread."""

    def __init__(self) -> None:
        self.failing: dict[int, bool] = {}
        self.hooks: list[tuple[float, dict[str, Any]]] = []
        self.port = 0
        self._ready = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True, name="bench-target").start()
        self._ready.wait(10)

    def _run(self) -> None:
        from aiohttp import web

        async def probe(request: web.Request) -> web.Response:
            index = int(request.match_info["i"])
            return web.Response(status=500 if self.failing.get(index) else 200, text="t")

        async def hook(request: web.Request) -> web.Response:
            body = await request.json()
            self.hooks.append((time.time(), body))
            return web.Response(status=204)

        async def main() -> None:
            app = web.Application()
            app.router.add_get("/t/{i}", probe)
            app.router.add_post("/hook", hook)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._ready.set()
            await asyncio.Event().wait()

        asyncio.run(main())


def seed(target: Target, count: int) -> tuple[Any, list[Any]]:
    from accounts import services as account_services
    from accounts.audit import Actor
    from accounts.models import Role
    from alerting.services import rule_create
    from monitors.models import Monitor
    from monitors.services import monitor_create
    from notifications.services import channel_create
    from pulse import tenancy

    user, org = account_services.user_signup(
        email=f"alerts-{int(time.time())}@bench.test",
        password=PASSWORD,
        name="Bench",
        org_name="Alert bench",
    )
    actor = Actor(user=user)
    with tenancy.org_context(org.id, user_id=user.id):
        channel = channel_create(
            actor=actor,
            role=Role.OWNER,
            data={
                "kind": "webhook",
                "name": "bench hook",
                "secrets": {"url": f"http://127.0.0.1:{target.port}/hook"},
            },
        )
        rule_create(
            actor=actor,
            role=Role.OWNER,
            data={"name": "all", "events": ["down", "recovered"], "channels": [channel.id]},
        )
        monitors = [
            monitor_create(
                actor=actor,
                data={
                    "name": f"alert-{i}",
                    "type": "http",
                    "target": f"http://127.0.0.1:{target.port}/t/{i}",
                    "interval_seconds": 10,
                    "timeout_seconds": 2,
                },
            )
            for i in range(count)
        ]
    # One-second checks for the bench (the product's minimum interval is 10 s).
    Monitor.all_orgs.filter(org_id=org.id).update(interval_seconds=1, timeout_seconds=1)
    return org, monitors


def run_trials(target: Target, monitors: list[Any], trials: int) -> list[dict[str, float]]:
    from incidents.models import Incident

    results: list[dict[str, Any]] = []
    per_monitor = max(1, trials // len(monitors))
    index = {m.id: i for i, m in enumerate(monitors)}
    # Phase per monitor: "up" (waiting to fail), "failing" (waiting for the incident),
    # "recovering" (waiting for it to resolve).
    phase = {m.id: "up" for m in monitors}
    done = {m.id: 0 for m in monitors}
    deadline = time.monotonic() + 60 + per_monitor * 15
    for monitor in monitors:
        target.failing[index[monitor.id]] = True
        phase[monitor.id] = "failing"
    while any(done[m] < per_monitor for m in done) and time.monotonic() < deadline:
        now = time.time()
        current = {
            i.monitor_id: i
            for i in Incident.all_orgs.filter(monitor_id__in=list(phase)).exclude(status="resolved")
        }
        for monitor_id, state in phase.items():
            if state == "failing" and monitor_id in current:
                incident = current[monitor_id]
                results.append(
                    {"incident": incident.id, "opened": incident.opened_at.timestamp(), "seen": now}
                )
                target.failing[index[monitor_id]] = False
                phase[monitor_id] = "recovering"
            elif state == "recovering" and monitor_id not in current:
                done[monitor_id] += 1
                if done[monitor_id] < per_monitor:
                    target.failing[index[monitor_id]] = True
                    phase[monitor_id] = "failing"
                else:
                    phase[monitor_id] = "finished"
        time.sleep(0.005)
    time.sleep(3)  # the last webhooks
    arrivals: dict[str, float] = {}
    for arrived, body in target.hooks:
        incident_id = (body.get("incident") or {}).get("id")
        if body.get("type") == "monitor.down" and incident_id:
            arrivals.setdefault(str(incident_id), arrived)
    rows: list[dict[str, float]] = []
    for trial in results:
        incident_id = str(trial["incident"])
        row = {"incident_ms": (trial["seen"] - trial["opened"]) * 1000}
        if incident_id in arrivals:
            row["webhook_ms"] = (arrivals[incident_id] - trial["opened"]) * 1000
        rows.append(row)
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.alerts", description=__doc__)
    parser.add_argument("--trials", type=int, default=100)
    # Two trials per monitor: a monitor that goes down and up every few seconds is
    # flapping, and its down notifications are (rightly) held back.
    parser.add_argument("--monitors", type=int, default=50)
    parser.add_argument("--out", default=str(bench_env.ARTIFACTS / "bench-alerts.json"))
    args = parser.parse_args(argv)
    original = bench_env.prepare_environ(db_name=DB_NAME, redis_db=REDIS_DB)
    bench_env.ensure_database(DB_NAME, original["PULSE_DB_OWNER_URL"])
    import os

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    # The bench helpers import Django models: only after setup.
    from bench.analyze import percentiles
    from bench.checks import celery_args, celery_ready, say, worker_args
    from bench.machine import machine_info

    call_command("setup_db", verbosity=0)
    bench_env.empty_database()
    bench_env.flush_redis()
    target = Target()
    target.start()
    org, monitors = seed(target, args.monitors)
    connections.close_all()
    env = dict(os.environ)
    started: list[procs.Proc] = []
    try:
        started.append(
            procs.start("alerts-checks", worker_args("checks@bench", "checks", "threads", 8), env)
        )
        started.append(
            procs.start(
                "alerts-worker",
                worker_args("worker@bench", "default,alerts,notifications", "prefork", 2),
                env,
            )
        )
        for node in ("checks@bench", "worker@bench"):
            procs.wait_until(celery_ready(node), timeout=60, what=node, procs=started)
        started.append(
            procs.start(
                "alerts-beat",
                celery_args(
                    "beat", "--loglevel", "WARNING", "-s", str(bench_env.RUN_DIR / "alerts-beat")
                ),
                env,
            )
        )
        say(f"{args.monitors} monitors at 1 s; {args.trials} trials")
        rows = run_trials(target, monitors, args.trials)
    finally:
        for proc in reversed(started):
            procs.stop(proc)
        connections.close_all()
        bench_env.empty_database()
    incident = [r["incident_ms"] for r in rows]
    webhook = [r["webhook_ms"] for r in rows if "webhook_ms" in r]
    report = {
        "machine": machine_info("aiohttp"),
        "config": {
            "trials": len(rows),
            "monitors": args.monitors,
            "interval_s": 1,
            "fail_threshold": 3,
            "at": datetime.now(UTC).isoformat(),
        },
        "incident_ms": percentiles(incident),
        "webhook_ms": percentiles(webhook),
        "webhooks_received": len(webhook),
        "goals": {
            "incident_p99_ms<=250": (percentiles(incident).get("p99") or 1e9) <= 250,
            "webhook_p50_ms<=500": (percentiles(webhook).get("p50") or 1e9) <= 500,
            "webhook_p99_ms<=2000": (percentiles(webhook).get("p99") or 1e9) <= 2000,
        },
    }
    bench_env.ARTIFACTS.mkdir(exist_ok=True)
    with open(args.out, "w") as out:
        json.dump(report, out, indent=2, default=str)
    print(
        json.dumps(
            {
                k: report[k]
                for k in ("config", "incident_ms", "webhook_ms", "webhooks_received", "goals")
            },
            indent=2,
        )
    )
    del org
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
