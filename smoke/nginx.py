"""The shipped ``deploy/nginx.conf``, made runnable on loopback, and Debian's nginx.

:func:`render_site` substitutes exactly the listen ports, the upstream address, the
certificate and the static folder, each of which must appear exactly once, so a changed
shipped config fails loudly here instead of being tested in some other shape.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from smoke import ROOT

NGINX = "/usr/sbin/nginx"
SHIPPED = ROOT / "deploy" / "nginx.conf"


@dataclass(frozen=True)
class Site:
    http_port: int
    https_port: int
    upstream: str  # host:port of daphne
    cert: Path  # certificate chain, PEM
    key: Path  # its private key, PEM
    static: Path  # collectstatic's output


def render_site(site: Site, shipped: str | None = None) -> str:
    text = SHIPPED.read_text() if shipped is None else shipped
    swaps = {
        "listen 80;": f"listen 127.0.0.1:{site.http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{site.https_port} ssl http2;",
        "server app:8000;": f"server {site.upstream};",
        "ssl_certificate     /etc/nginx/tls/fullchain.pem;": f"ssl_certificate     {site.cert};",
        "ssl_certificate_key /etc/nginx/tls/privkey.pem;": f"ssl_certificate_key {site.key};",
        "alias /srv/static/;": f"alias {site.static}/;",
    }
    for old, new in swaps.items():
        count = text.count(old)
        if count != 1:
            raise ValueError(f"deploy/nginx.conf: expected {old!r} once, found it {count} times")
        text = text.replace(old, new)
    return text


def main_config(run: Path, site_file: Path) -> str:
    """A main config around the site file, with every file nginx writes under ``run``.
    As root the workers must run as root too: a checkout in root's 0700 home is not
    readable by www-data or nobody (static files)."""
    user = "user root;\n" if os.geteuid() == 0 else ""
    tmp = run / "tmp"
    return (
        f"{user}daemon off;\n"
        "master_process on;\n"
        "worker_processes 1;\n"
        f"pid {run}/nginx.pid;\n"
        f"error_log {run}/nginx-error.log warn;\n"
        "events { worker_connections 512; }\n"
        "http {\n"
        "    include /etc/nginx/mime.types;\n"
        "    default_type application/octet-stream;\n"
        f"    access_log {run}/nginx-access.log;\n"
        f"    client_body_temp_path {tmp}/body;\n"
        f"    proxy_temp_path {tmp}/proxy;\n"
        f"    fastcgi_temp_path {tmp}/fastcgi;\n"
        f"    uwsgi_temp_path {tmp}/uwsgi;\n"
        f"    scgi_temp_path {tmp}/scgi;\n"
        f"    include {site_file};\n"
        "}\n"
    )


def write_config(run: Path, site: Site) -> Path:
    """Write ``run/site.conf`` and ``run/nginx.conf``; return the main config's path."""
    (run / "tmp").mkdir(parents=True, exist_ok=True)
    site_file = run / "site.conf"
    site_file.write_text(render_site(site))
    conf = run / "nginx.conf"
    conf.write_text(main_config(run, site_file))
    return conf


def command(run: Path, conf: Path, *extra: str) -> list[str]:
    return [NGINX, "-p", str(run), "-c", str(conf), "-e", str(run / "nginx-error.log"), *extra]


def test_config(run: Path, conf: Path) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` of ``conf`` (stderr holds nginx's verdict)."""
    return subprocess.run(command(run, conf, "-t"), capture_output=True, text=True, check=False)


def ensure_nginx(*, install: bool = True) -> bool:
    """Debian's nginx, installed (nginx-light, else nginx) when missing and allowed."""
    if os.access(NGINX, os.X_OK):
        return True
    if not install or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # A fresh machine may have no package lists yet: update once, then retry.
    for refresh in (False, True):
        if refresh:
            subprocess.run(
                ["apt-get", "update", "-q"], env=env, stdin=subprocess.DEVNULL, check=False
            )
        for package in ("nginx-light", "nginx"):
            result = subprocess.run(
                ["apt-get", "install", "-y", "-q", "--no-install-recommends", package],
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
            )
            if result.returncode == 0 and os.access(NGINX, os.X_OK):
                return True
    return False


def version() -> str:
    result = subprocess.run([NGINX, "-v"], capture_output=True, text=True, check=False)
    return result.stderr.strip().removeprefix("nginx version: ")
