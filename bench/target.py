"""The local HTTP target of the probes: a private nginx instance (Debian's, installed
on demand) or, without nginx, a small aiohttp server in a subprocess.

Both answer ``GET /ok`` with 200 "ok" and write one line per request, ``<unix time>
<m>`` (the ``m`` query argument names the monitor), buffered, so the bench can tell
when each probe actually reached the target.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench import procs
from bench.env import RUN_DIR

NGINX = "/usr/sbin/nginx"

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes {workers};
pid {run}/nginx.pid;
error_log {run}/nginx-error.log warn;
events {{
    worker_connections 8192;
}}
http {{
    access_log off;
    client_body_temp_path {run}/tmp/body;
    proxy_temp_path {run}/tmp/proxy;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    log_format probe '$msec $arg_m';
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /ok {{
            {access_log}
            default_type text/plain;
            return 200 "ok";
        }}
    }}
}}
"""


@dataclass
class Target:
    kind: str
    url: str  # http://127.0.0.1:PORT/ok
    proc: procs.Proc
    request_log: Path | None
    version: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}?m=ready", timeout=1) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


def ensure_nginx(install: bool) -> bool:
    if os.access(NGINX, os.X_OK):
        return True
    if not install or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    print("bench: installing nginx-light (apt-get) for the probe target", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for package in ("nginx-light", "nginx"):
        result = subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", package],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )
        if result.returncode == 0 and os.access(NGINX, os.X_OK):
            return True
    return False


def start_target(
    env: dict[str, str],
    *,
    prefer: str,
    install: bool,
    workers: int,
    request_log: bool,
    started: list[procs.Proc],
) -> Target:
    """Start the target; its process is appended to ``started`` at once, so an
    interrupted start is cleaned up too."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/ok"
    log_path = RUN_DIR / "target-requests.log" if request_log else None
    if log_path is not None:
        log_path.unlink(missing_ok=True)
    if prefer == "nginx" and ensure_nginx(install):
        run = RUN_DIR / "nginx"
        (run / "tmp").mkdir(parents=True, exist_ok=True)
        access = (
            f"access_log {log_path} probe buffer=256k flush=1s;" if log_path else "access_log off;"
        )
        conf = run / "nginx.conf"
        conf.write_text(NGINX_CONF.format(workers=workers, run=run, port=port, access_log=access))
        version = subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr.strip()
        args = [NGINX, "-p", str(run), "-c", str(conf), "-e", str(run / "nginx-error.log")]
        proc = procs.start("target-nginx", args, env)
        started.append(proc)
        kind = "nginx"
    else:
        args = [sys.executable, "-m", "bench.target_app", str(port), str(log_path or "")]
        proc = procs.start("target-aiohttp", args, env)
        started.append(proc)
        kind, version = "aiohttp", "aiohttp"
    procs.wait_until(lambda: _answers(url), timeout=20, what=f"{kind} target", procs=[proc])
    return Target(kind=kind, url=url, proc=proc, request_log=log_path, version=version)


def read_request_log(path: Path | None) -> list[tuple[float, str]]:
    """(unix time, m) per request; lines of an unfinished write are skipped."""
    if path is None or not path.exists():
        return []
    out: list[tuple[float, str]] = []
    with path.open() as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 2 and parts[1] != "-":
                try:
                    out.append((float(parts[0]), parts[1]))
                except ValueError:
                    continue
    return out
