"""The production shape on loopback: nginx (the shipped config) in front of daphne with
production settings, the checks worker, the jobs worker and beat.

The process command lines are the ones ``make run`` uses (``scripts/devstack.py``
``run_specs`` and ``PROCESS_ENV``), with daphne given ``--proxy-headers`` as the image's
entrypoint does; only the settings differ: ``PULSE_ENV=prod``.
"""

from __future__ import annotations

import importlib.util
import secrets
import socket
import sys
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from smoke import ROOT, nginx, procs
from smoke.tls import Certs

# One address for every smoke client: let the per-IP login limit allow the browser
# workflows' dozen-odd logins plus the checks' within a minute. The per-account limit and
# the lockout stay as shipped.
LOGIN_RATE_PER_IP = "300/m"


def free_port(avoid: set[int]) -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            avoid.add(port)
            return port


def devstack() -> ModuleType:
    """scripts/devstack.py as a module (it is a script, not a package)."""
    path = ROOT / "scripts" / "devstack.py"
    spec = importlib.util.spec_from_file_location("pulse_devstack", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Stack:
    base: str  # https://127.0.0.1:PORT
    http_base: str  # http://127.0.0.1:PORT (the port-80 server)
    app_base: str  # daphne itself, http://127.0.0.1:PORT
    metrics_token: str
    env: dict[str, str]  # what the stack's processes run with
    nginx_version: str
    worker_nodes: list[str]
    procs: list[procs.Proc] = field(default_factory=list)

    def alive(self) -> list[str]:
        return [p.name for p in self.procs if not p.alive()]


def prod_env(
    base: dict[str, str], *, public_url: str, token: str, certs: Certs, static: Path
) -> dict[str, str]:
    env = dict(base)
    for key in ("PULSE_DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "PULSE_SERVE_STATIC"):
        env.pop(key, None)
    env.update(
        {
            "PULSE_ENV": "prod",
            "PULSE_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PULSE_PUBLIC_URL": public_url,
            "PULSE_METRICS_TOKEN": token,
            "PULSE_STATIC_ROOT": str(static),
            # The browser workflows read the invitation e-mail the worker writes.
            "PULSE_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "PULSE_LOGIN_RATE_PER_IP": LOGIN_RATE_PER_IP,
            # Webhooks must be https in production; the smoke's receiver has a
            # certificate from the smoke CA, which the stack (aiohttp, through
            # OpenSSL's default paths) trusts instead of the system's CAs.
            "SSL_CERT_FILE": str(certs.ca),
        }
    )
    return env


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)
    except OSError:
        return False


def _celery_ready(nodes: list[str]) -> bool:
    from pulse.celery import app

    replies = app.control.ping(destination=nodes, timeout=0.5) or []
    answered = {name for reply in replies for name in reply}
    return answered >= set(nodes)


@contextmanager
def running(
    run: Path, certs: Certs, base_env: dict[str, str], *, before_start: Callable[[], None]
) -> Iterator[Stack]:
    """Migrate, collect static files, call ``before_start`` (the database is migrated,
    nothing runs yet), start everything, wait until it answers through nginx, yield;
    stop it all."""
    ds = devstack()
    logs = run / "logs"
    static = run / "static"
    ports: set[int] = set()
    app_port, http_port, https_port = free_port(ports), free_port(ports), free_port(ports)
    base = f"https://127.0.0.1:{https_port}"
    token = secrets.token_urlsafe(24)
    env = prod_env(base_env, public_url=base, token=token, certs=certs, static=static)

    # What the image does before serving: migrate and grant (the app's entrypoint),
    # collect static files (the image build).
    py = sys.executable
    setup_db: list[str] = ds.SETUP_STEPS[0]
    procs.run("setup_db", [py, *setup_db], env, logs)
    procs.run("collectstatic", [py, "manage.py", "collectstatic", "--noinput"], env, logs)
    before_start()

    site = nginx.Site(
        http_port=http_port,
        https_port=https_port,
        upstream=f"127.0.0.1:{app_port}",
        cert=certs.server_cert,
        key=certs.server_key,
        static=static,
    )
    conf = nginx.write_config(run, site)
    checked = nginx.test_config(run, conf)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx -t refused the shipped config:\n{checked.stderr}")

    specs: list[tuple[str, list[str]]] = ds.run_specs(app_port, 0)
    argv = {tag: list(cmd) for tag, cmd in specs if tag != "demo"}
    argv["web"].insert(-1, "--proxy-headers")  # as deploy/entrypoint.sh runs daphne
    process_env: dict[str, dict[str, str]] = ds.PROCESS_ENV
    host = socket.gethostname()
    nodes = [cmd[cmd.index("-n") + 1].replace("%h", host) for cmd in argv.values() if "-n" in cmd]

    stack = Stack(
        base=base,
        http_base=f"http://127.0.0.1:{http_port}",
        app_base=f"http://127.0.0.1:{app_port}",
        metrics_token=token,
        env=env,
        nginx_version=nginx.version(),
        worker_nodes=nodes,
    )
    try:
        for tag, cmd in argv.items():
            stack.procs.append(procs.start(tag, cmd, {**env, **process_env.get(tag, {})}, logs))
        stack.procs.append(procs.start("nginx", nginx.command(run, conf), env, logs))
        procs.wait_until(
            lambda: _answers(f"{stack.app_base}/api/health"),
            timeout=60,
            what="daphne /api/health",
            watch=stack.procs,
        )
        procs.wait_until(
            lambda: _answers(f"{stack.http_base}/health"),
            timeout=20,
            what="nginx",
            watch=stack.procs,
        )
        procs.wait_until(
            lambda: _celery_ready(nodes),
            timeout=60,
            what=f"celery workers {', '.join(nodes)}",
            watch=stack.procs,
            interval=0.5,
        )
        yield stack
    finally:
        for proc in reversed(stack.procs):
            procs.stop(proc)


def describe(stack: Stack) -> str:
    return (
        f"nginx {stack.nginx_version} on {stack.base} and {stack.http_base}, "
        f"daphne on {stack.app_base}, workers {', '.join(stack.worker_nodes)}, beat"
    )
