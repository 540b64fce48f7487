"""What the figures were measured on."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from pathlib import Path

from bench.env import ROOT


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _git() -> dict[str, object]:
    def run(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else ""

    status = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True)
    changed = [line[3:] for line in status.stdout.decode().splitlines() if line]
    diff = subprocess.run(["git", "diff", "HEAD"], cwd=ROOT, capture_output=True).stdout
    return {
        "commit": run("rev-parse", "HEAD") or None,
        # The tree is measured as it is: name what differed from the commit.
        "uncommitted_files": changed,
        "diff_sha256": hashlib.sha256(diff).hexdigest() if changed else None,
    }


def _postgres() -> dict[str, object]:
    from django.db import connections

    from pulse.db import SYSTEM_DB

    out: dict[str, object] = {}
    with connections[SYSTEM_DB].cursor() as cursor:
        cursor.execute("SHOW server_version")
        out["version"] = cursor.fetchone()[0]
        for name in ("fsync", "synchronous_commit", "shared_buffers", "max_connections"):
            cursor.execute(f"SHOW {name}")
            out[name] = cursor.fetchone()[0]
    return out


def _redis() -> str | None:
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        return str(client.info("server").get("redis_version"))
    except redis.RedisError:
        return None
    finally:
        client.close()


def machine_info(target_version: str) -> dict[str, object]:
    import celery
    import django

    try:
        import uvloop

        loop = f"uvloop {uvloop.__version__}"
    except ImportError:
        loop = "asyncio"
    return {
        "cores": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _mem_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "celery": celery.__version__,
        "event_loop": loop,
        "postgresql": _postgres(),
        "redis": _redis(),
        "target": target_version,
        "git": _git(),
    }
