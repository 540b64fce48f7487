"""``python -m bench.ingest``: ingest throughput against a live daphne on loopback (SPEC §13:
≥ 5,000 metric samples/s and ≥ 1,000 heartbeats/s on the 2-core machine).

Run it through the devstack so the database and Redis are found::

    .venv/bin/python scripts/devstack.py exec -- python -m bench.ingest

It uses its own database (``pulse_bench_ingest``, emptied before and after) and Redis
database, seeds one org with an ``ingest`` API key and 1,000 push monitors, starts
``--servers`` daphne processes (no Celery workers: ingest answers without them), then
drives two phases with ``--connections`` concurrent keep-alive connections each:

* metrics: POST /v1/ingest/metrics, ``--batch`` samples per request (native JSON by
  default; ``--format prometheus`` or ``collectd`` for the other parsers);
* heartbeats: GET /v1/ingest/heartbeat/<token> over the 1,000 push monitors.

CPU seconds per process group (daphne, postgres, this client) are sampled from /proc,
so a miss can be told apart: server-bound or client-bound. The report goes to
artifacts/bench-ingest.json and stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import time
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import env as bench_env
from bench import procs

GOALS = {"samples_per_s": 5000, "heartbeats_per_s": 1000}


def say(message: str) -> None:
    print(f"[bench.ingest] {message}", file=sys.stderr, flush=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections")
    parser.add_argument("--batch", type=int, default=500, help="samples per metrics POST")
    parser.add_argument("--hosts", type=int, default=20, help="distinct pushing hosts")
    parser.add_argument("--push-monitors", type=int, default=1000, help="heartbeat monitors")
    parser.add_argument("--servers", type=int, default=1, help="daphne processes")
    parser.add_argument("--format", choices=("native", "collectd", "prometheus"), default="native")
    parser.add_argument("--phases", default="metrics,heartbeats", help="comma-separated")
    parser.add_argument("--db-name", default="pulse_bench_ingest", help="emptied; not yours")
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--keep-data", action="store_true")
    parser.add_argument("--out", type=Path, default=bench_env.ARTIFACTS / "bench-ingest.json")


# ------------------------------------------------------------------------------ seed


@dataclass
class Seed:
    key: str
    tokens: list[str]


def seed(push_monitors: int) -> Seed:
    import hashlib
    import secrets

    from accounts.models import ApiKey
    from accounts.services import user_signup
    from monitors.models import Monitor, MonitorType
    from pulse import tenancy

    _user, org = user_signup(
        email=f"bench-ingest-{secrets.token_hex(3)}@bench.pulse.local",
        password="bench-password-not-secret-4711",  # noqa: S106 (a throwaway account)
        name="Bench ingest",
        org_name="Bench ingest",
    )
    prefix = secrets.token_hex(4)
    key = f"pulse_{prefix}_{secrets.token_urlsafe(24)}"
    with tenancy.org_context(org.id):
        ApiKey.objects.create(
            name="bench",
            prefix=prefix,
            token_hash=hashlib.sha256(key.encode()).hexdigest(),
            scopes=["ingest"],
        )
        far = time.time() + 86400 * 365  # never due: no scheduler runs in this bench
        from datetime import UTC, datetime

        monitors = [
            Monitor(
                org_id=org.id,
                name=f"job {i}",
                type=MonitorType.PUSH,
                interval_seconds=60,
                timeout_seconds=10,
                config={"grace_seconds": 60, "cron": "", "tz": "UTC"},
                next_check_at=datetime.fromtimestamp(far, UTC),
            )
            for i in range(push_monitors)
        ]
        Monitor.objects.bulk_create(monitors, batch_size=1000)
    return Seed(key=key, tokens=[m.heartbeat_token for m in monitors])


# --------------------------------------------------------------------------- bodies


def metric_bodies(fmt: str, hosts: int, batch: int) -> list[tuple[bytes, str, str]]:
    """(body, content type, query) per host; timestamps stay valid for the whole run
    (the endpoint accepts ±1 day), so bodies are built once and the client spends its
    CPU on sending, not on JSON."""
    now = time.time()
    names = [f"bench.metric_{i:02d}" for i in range(50)]
    rng = random.Random(4711)
    out = []
    for h in range(hosts):
        host = f"bench-host-{h:03d}"
        points = [(names[i % 50], now - i // 50, rng.uniform(0, 100)) for i in range(batch)]
        if fmt == "native":
            body = json.dumps(
                {
                    "host": host,
                    "samples": [{"name": n, "value": v, "ts": t} for n, t, v in points],
                }
            )
            out.append((body.encode(), "application/json", ""))
        elif fmt == "collectd":
            lists = [
                {
                    "values": [v],
                    "dstypes": ["gauge"],
                    "dsnames": ["value"],
                    "time": t,
                    "interval": 10.0,
                    "host": host,
                    "plugin": "bench",
                    "plugin_instance": "",
                    "type": "gauge",
                    "type_instance": n.split(".", 1)[1],
                }
                for n, t, v in points
            ]
            out.append((json.dumps(lists).encode(), "application/json", ""))
        else:
            lines = [
                f'{n.replace(".", "_")}{{core="{i % 4}"}} {v:.4f} {int(t * 1000)}'
                for i, (n, t, v) in enumerate(points)
            ]
            out.append(
                (
                    ("\n".join(lines) + "\n").encode(),
                    "text/plain; version=0.0.4",
                    f"?host={host}",
                )
            )
    return out


# ---------------------------------------------------------------------------- load


@dataclass
class Tally:
    ok: int = 0
    units: int = 0  # samples accepted / heartbeats recorded
    errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(
    *,
    bases: list[str],
    connections: int,
    warmup: float,
    duration: float,
    request: Callable[[Any, str, int, int], Any],
) -> tuple[Tally, float]:
    """``connections`` workers, each on its own keep-alive connection to one server,
    issuing ``request(session, base, worker, n)`` back to back; only what completes
    inside the measured window counts."""
    import aiohttp

    tally = Tally()
    start = time.monotonic() + warmup
    stop = start + duration

    async def worker(i: int) -> None:
        connector = aiohttp.TCPConnector(limit=1, force_close=False)
        timeout = aiohttp.ClientTimeout(total=30)
        base = bases[i % len(bases)]
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            n = 0
            while time.monotonic() < stop:
                t0 = time.monotonic()
                try:
                    units = await request(session, base, i, n)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    units, error = None, type(exc).__name__
                else:
                    error = "" if isinstance(units, int) else str(units)
                t1 = time.monotonic()
                n += 1
                if t0 < start or t1 > stop:
                    continue
                if error:
                    tally.error(error)
                else:
                    tally.ok += 1
                    tally.units += int(units or 0)
                    tally.latencies.append((t1 - t0) * 1000)

    await asyncio.gather(*(worker(i) for i in range(connections)))
    return tally, duration


def metrics_request(seeded: Seed, bodies: list[tuple[bytes, str, str]]) -> Any:
    async def request(session: Any, base: str, worker: int, n: int) -> int | str:
        body, content_type, query = bodies[(worker + n * 7) % len(bodies)]
        headers = {"Authorization": f"Bearer {seeded.key}", "Content-Type": content_type}
        async with session.post(
            f"{base}/v1/ingest/metrics{query}", data=body, headers=headers
        ) as response:
            payload = await response.read()
            if response.status != 202:
                return f"HTTP {response.status}"
            return int(json.loads(payload)["accepted"])

    return request


def heartbeat_request(seeded: Seed) -> Any:
    tokens = seeded.tokens

    async def request(session: Any, base: str, worker: int, n: int) -> int | str:
        token = tokens[(worker * 997 + n) % len(tokens)]
        async with session.get(f"{base}/v1/ingest/heartbeat/{token}") as response:
            await response.read()
            return 1 if response.status == 200 else f"HTTP {response.status}"

    return request


def phase_report(tally: Tally, seconds: float, usage: dict[str, Any], unit: str) -> dict[str, Any]:
    return {
        f"{unit}_per_s": round(tally.units / seconds, 1),
        "requests_per_s": round(tally.ok / seconds, 1),
        "requests": tally.ok,
        unit: tally.units,
        "errors": tally.errors,
        "latency_ms": {
            "p50": round(percentile(tally.latencies, 0.50) or 0, 1),
            "p95": round(percentile(tally.latencies, 0.95) or 0, 1),
            "p99": round(percentile(tally.latencies, 0.99) or 0, 1),
        },
        **usage,
    }


# ---------------------------------------------------------------------------- main


def _healthy(base: str) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=1) as response:  # noqa: S310
                return bool(response.status == 200)
        except OSError:
            return False

    return ready


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _selectors(servers: list[procs.Proc], db_name: str) -> dict[str, procs.Selector]:
    roles: dict[str, procs.Selector] = {
        "daphne": procs.by_groups([p.pid for p in servers]),
        "client": procs.single(os.getpid()),
    }
    if not os.environ.get("DATABASE_URL"):
        ds = bench_env.devstack()
        with suppress(OSError, ValueError, IndexError):
            postmaster = int((Path(ds.PG_DATA) / "postmaster.pid").read_text().split()[0])
            roles["postgres"] = procs.postgres_of(postmaster, db_name)
    return roles


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.db_name in ("pulse", "pulse_test", "pulse_bench"):
        raise SystemExit("--db-name must be the ingest bench's own database (it is emptied)")
    original = bench_env.prepare_environ(db_name=args.db_name, redis_db=args.redis_db)
    if bench_env.ensure_database(args.db_name, original["PULSE_DB_OWNER_URL"]):
        say(f"created database {args.db_name}")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from pulse.db.partitions import ensure_partitions

    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    servers: list[procs.Proc] = []
    env = dict(os.environ)
    try:
        call_command("setup_db", verbosity=0)
        bench_env.empty_database()
        bench_env.flush_redis()
        ensure_partitions("metric_samples", days_back=1, days_ahead=2)
        seeded = seed(args.push_monitors)
        connections.close_all()
        bases = []
        for i in range(args.servers):
            port = _free_port()
            base = f"http://127.0.0.1:{port}"
            servers.append(
                procs.start(
                    f"ingest-daphne-{i}",
                    [
                        sys.executable,
                        "-m",
                        "daphne",
                        "-b",
                        "127.0.0.1",
                        "-p",
                        str(port),
                        "pulse.asgi:application",
                    ],
                    {**env, "PULSE_DB_POOL": "1"},  # as production runs the web process
                )
            )
            procs.wait_until(_healthy(base), timeout=30, what=f"daphne {i}", procs=servers)
            bases.append(base)
        say(f"{len(bases)} daphne process(es) up; {args.connections} connections per phase")

        report: dict[str, Any] = {
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "config": {
                k: getattr(args, k)
                for k in (
                    "duration",
                    "warmup",
                    "connections",
                    "batch",
                    "hosts",
                    "servers",
                    "push_monitors",
                    "format",
                )
            },
        }
        with procs.Sampler(_selectors(servers, args.db_name), period=0.5) as sampler:
            if "metrics" in phases:
                bodies = metric_bodies(args.format, args.hosts, args.batch)
                say(f"metrics: {args.batch} samples/POST ({args.format}) for {args.duration:.0f} s")
                sampler.begin()
                tally, seconds = asyncio.run(
                    drive(
                        bases=bases,
                        connections=args.connections,
                        warmup=args.warmup,
                        duration=args.duration,
                        request=metrics_request(seeded, bodies),
                    )
                )
                report["metrics"] = phase_report(tally, seconds, sampler.end(), "samples")
            if "heartbeats" in phases:
                say(f"heartbeats: {len(seeded.tokens)} push monitors for {args.duration:.0f} s")
                sampler.begin()
                tally, seconds = asyncio.run(
                    drive(
                        bases=bases,
                        connections=args.connections,
                        warmup=args.warmup,
                        duration=args.duration,
                        request=heartbeat_request(seeded),
                    )
                )
                report["heartbeats"] = phase_report(tally, seconds, sampler.end(), "heartbeats")
        report["goals"] = {
            f"samples_per_s>={GOALS['samples_per_s']}": report.get("metrics", {}).get(
                "samples_per_s", 0
            )
            >= GOALS["samples_per_s"],
            f"heartbeats_per_s>={GOALS['heartbeats_per_s']}": report.get("heartbeats", {}).get(
                "heartbeats_per_s", 0
            )
            >= GOALS["heartbeats_per_s"],
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(json.dumps(report, indent=2, default=str), flush=True)
        say(f"report written to {args.out}")
        return 0
    finally:
        for proc in reversed(servers):
            procs.stop(proc)
        if not args.keep_data:
            try:
                bench_env.empty_database()
                bench_env.flush_redis()
            finally:
                connections.close_all()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
