"""The production deploy files: the compose file's structure (no Docker engine runs
here, so its config is validated, not run), the nginx config (accepted by Debian's
nginx; its behaviour over HTTPS is proven by ``make smoke``), the image."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from smoke import nginx
from smoke.tls import make_certs

ROOT = Path(__file__).resolve().parent.parent


def test_the_compose_file_names_every_process_and_its_secrets() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"web", "app", "checks", "worker", "beat", "db", "redis"}
    commands = {name: services[name].get("command") for name in ("app", "checks", "worker", "beat")}
    assert commands == {
        "app": ["app"],
        "checks": ["checks"],
        "worker": ["worker"],
        "beat": ["beat"],
    }
    env = services["app"]["environment"]
    for key in (
        "PULSE_SECRET_KEY",
        "PULSE_ENCRYPTION_KEYS",
        "PULSE_DB_APP_URL",
        "PULSE_DB_SYSTEM_URL",
        "PULSE_DB_OWNER_URL",
        "REDIS_URL",
    ):
        assert key in env
    assert env["PULSE_ENV"] == "prod"
    assert "healthcheck" in services["app"] and "healthcheck" in services["db"]
    entry = (ROOT / "deploy/entrypoint.sh").read_text()
    for role in ("app)", "checks)", "worker)", "beat)"):
        assert role in entry


def _site(tmp_path: Path) -> nginx.Site:
    certs = make_certs(tmp_path / "tls")
    return nginx.Site(
        http_port=8080,
        https_port=8443,
        upstream="127.0.0.1:8000",
        cert=certs.server_cert,
        key=certs.server_key,
        static=tmp_path / "static",
    )


def test_debian_nginx_accepts_the_shipped_config(tmp_path: Path) -> None:
    """``nginx -t`` with Debian's nginx (1.22 on Debian 12, installed like the smoke
    does when missing): the shipped file, only ports, upstream and paths substituted.
    (``make smoke`` then runs it and checks its behaviour over HTTPS.)"""
    assert nginx.ensure_nginx(), "Debian's nginx is missing and could not be installed"
    conf = nginx.write_config(tmp_path, _site(tmp_path))
    result = nginx.test_config(tmp_path, conf)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_the_smoke_runs_the_shipped_config_with_only_ports_upstream_and_paths_changed(
    tmp_path: Path,
) -> None:
    shipped = nginx.SHIPPED.read_text().splitlines()
    rendered = nginx.render_site(_site(tmp_path)).splitlines()
    assert len(rendered) == len(shipped)
    changed = [(a.strip(), b.strip()) for a, b in zip(shipped, rendered, strict=True) if a != b]
    assert [a.split()[0] for a, _ in changed] == [
        "server",  # the upstream
        "listen",
        "listen",
        "ssl_certificate",
        "ssl_certificate_key",
        "alias",
    ]
    assert all(b.startswith(a.split()[0]) for a, b in changed)


def test_the_smoke_refuses_a_config_whose_substituted_lines_moved(tmp_path: Path) -> None:
    """A shipped config that no longer has a line the smoke substitutes (here the
    1.25+-only HTTP/2 form, which Debian 12's nginx refuses) is an error, never a
    silently different test."""
    text = nginx.SHIPPED.read_text().replace("listen 443 ssl http2;", "listen 443 ssl;\nhttp2 on;")
    with pytest.raises(ValueError, match="listen 443 ssl http2;"):
        nginx.render_site(_site(tmp_path), shipped=text)


def test_the_compose_web_service_mounts_what_the_config_names() -> None:
    """Where the config expects its certificate and static files, compose puts them."""
    web = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in web["volumes"]}
    assert mounts["/etc/nginx/conf.d/default.conf"] == "./deploy/nginx.conf"
    assert mounts["/etc/nginx/tls"] == "./deploy/tls"
    assert mounts["/srv/static"] == "static"
    conf = nginx.SHIPPED.read_text()
    assert "/etc/nginx/tls/fullchain.pem;" in conf and "alias /srv/static/;" in conf
    # The upstream is the compose service that runs daphne on port 8000.
    assert "server app:8000;" in conf


def test_the_image_installs_the_hash_pinned_lock() -> None:
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    assert "pip install --no-cache-dir --require-hashes -r requirements/base.lock" in dockerfile
    assert "npm ci" in dockerfile and "USER pulse" in dockerfile
