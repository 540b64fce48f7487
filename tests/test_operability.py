"""/metrics, production settings (INV-13: HTTPS-only, HSTS, secure cookies) and
``check --deploy``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.test import Client
from django.urls import reverse

from tests.conftest import Member
from tests.monitors.peers import WebPeer
from tests.monitors.test_pipeline import claim_all, make, make_due, run_claimed

ROOT = Path(__file__).resolve().parent.parent


def test_metrics_expose_fleet_figures(owner: Member, web: WebPeer) -> None:
    monitor = make(owner, type="http", target=web.url("/fail"))
    make(owner, type="http", target=web.url("/ok"), paused=True)
    make_due(monitor)
    run_claimed(claim_all())
    client = Client()
    assert client.get(reverse("landing")).status_code == 200
    body = client.get(reverse("metrics")).content.decode()
    assert "active_monitors 1.0" in body
    assert 'monitor_checks_total{outcome="fail"} 1.0' in body
    assert 'outbox_notifications{status="dead"} 0.0' in body
    assert "scheduler_lag_seconds" in body and "websocket_connections" in body
    assert 'http_requests_total{method="GET"' in body


def test_metrics_need_the_token_when_one_is_set(live_db: None, settings: Any) -> None:
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    assert Client().get(reverse("metrics")).status_code == 404
    response = Client().get(reverse("metrics"), HTTP_AUTHORIZATION="Bearer s3cret-metrics-token")
    assert response.status_code == 200


def _prod_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PULSE_ENV": "prod",
            "PULSE_SECRET_KEY": "x" * 60 + "-production-grade-secret-key-for-the-check",
            "PULSE_ALLOWED_HOSTS": "pulse.example.test",
            "PULSE_PUBLIC_URL": "https://pulse.example.test",
        }
    )
    return env


def test_production_settings_pass_check_deploy() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_prod_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_are_https_only_with_hsts() -> None:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_NAME, s.DEBUG)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=_prod_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.split() == [
        "True",
        "31536000",
        "True",
        "True",
        "__Host-pulse_session",
        "False",
    ]
