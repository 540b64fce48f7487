"""/metrics, production settings (INV-13: HTTPS-only, HSTS, secure cookies) and
``check --deploy``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.test import Client
from django.urls import reverse

from pulse import metrics
from tests.conftest import Member
from tests.live import wait_for
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


SPEC_NAMES = (
    "http_requests_total",
    "http_request_duration_seconds",
    "monitor_checks_total",
    "monitor_check_duration_milliseconds",
    "active_monitors",
    "active_incidents",
    "scheduler_lag_seconds",
    "outbox_notifications",
    "websocket_connections",
)


def test_every_spec_name_is_exposed_with_its_type(live_db: None) -> None:
    body = Client().get(reverse("metrics")).content.decode()
    types = dict(line.split()[2:4] for line in body.splitlines() if line.startswith("# TYPE "))
    for name in SPEC_NAMES:
        # A counter's TYPE line may name it without _total; its samples carry it.
        assert name in types or name.removesuffix("_total") in types, name
        assert f"\n{name}" in body or f"\n{name}{{" in body or f"\n{name}_" in body, name
    assert types["monitor_check_duration_milliseconds"] == "histogram"
    assert types["http_request_duration_seconds"] == "histogram"
    assert types["monitor_checks_total"] == "counter"
    assert types["websocket_connections"] == "gauge"


def test_check_latency_is_a_histogram_across_processes(owner: Member, web: WebPeer) -> None:
    fast = make(owner, type="http", target=web.url("/ok"))
    make_due(fast)
    run_claimed(claim_all())
    # Another process (a second checks worker) adds its own observations.
    metrics.observe_check_durations([3.0, 7.5, None, 40000.0])
    body = Client().get(reverse("metrics")).content.decode()
    assert "monitor_check_duration_milliseconds_count 4.0" in body  # None: no latency
    assert 'monitor_check_duration_milliseconds_bucket{le="5"}' in body
    buckets = [
        float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line.startswith("monitor_check_duration_milliseconds_bucket")
    ]
    assert buckets == sorted(buckets)  # cumulative
    assert buckets[0] >= 1 and buckets[-2] == 3 and buckets[-1] == 4  # 40 s: only +Inf


def test_open_sockets_are_summed_across_processes_and_a_dead_process_drops_out(
    live_db: None, monkeypatch: Any
) -> None:
    monkeypatch.setattr(metrics, "WS_TTL", 1)
    alive, dying = metrics.SocketGauge(), metrics.SocketGauge()  # two web processes

    async def open_sockets(gauge: metrics.SocketGauge, n: int) -> None:
        for _ in range(n):
            await gauge.opened()

    asyncio.run(open_sockets(alive, 2))
    asyncio.run(open_sockets(dying, 3))
    assert metrics.websocket_connections() == 5
    asyncio.run(alive.closed())
    assert metrics.websocket_connections() == 4

    # The dying process is killed: it never refreshes again; the live one does.
    def only_the_live_process_counts() -> bool:
        alive.publish()
        return metrics.websocket_connections() == 1

    wait_for(only_the_live_process_counts, timeout=10)


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
