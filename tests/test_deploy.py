"""The production deploy files: the compose file's structure (no Docker engine runs
here, so its config is validated, not run), nginx's edge rules, the image."""

from __future__ import annotations

from pathlib import Path

import yaml

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


def test_nginx_terminates_tls_redirects_and_sets_hsts() -> None:
    conf = (ROOT / "deploy/nginx.conf").read_text()
    assert "return 301 https://$host$request_uri;" in conf
    assert "listen 443 ssl;" in conf
    assert 'Strict-Transport-Security "max-age=31536000; includeSubDomains; preload"' in conf
    assert "large_client_header_buffers 4 16k;" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf  # WebSockets
    assert "location /static/" in conf


def test_the_image_installs_the_hash_pinned_lock() -> None:
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    assert "pip install --no-cache-dir --require-hashes -r requirements/base.lock" in dockerfile
    assert "npm ci" in dockerfile and "USER pulse" in dockerfile
