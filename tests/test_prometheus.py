"""/metrics scraped by a real Prometheus server (Debian's ``prometheus``), read back
through its HTTP API: the scrape authenticates with the bearer token, the SPEC §12
names arrive, and ``websocket_connections`` equals the sockets this test holds open
against a live daphne."""

from __future__ import annotations

import asyncio
import json
import shutil
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import Member
from tests.live import daphne, free_port, process
from tests.monitors.peers import WebPeer
from tests.monitors.test_pipeline import claim_all, make, make_due, run_claimed

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
TOKEN = "prometheus-scrape-token-for-the-test"
SOCKETS = 4

pytestmark = pytest.mark.skipif(
    not Path(PROMETHEUS).exists(), reason="Debian's prometheus not installed (bootstrap --browser)"
)


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
        return json.load(response)


@contextmanager
def prometheus(target: str, workdir: Path) -> Iterator[str]:
    """A private Prometheus scraping ``target``/metrics every 500 ms with the token."""
    token_file = workdir / "token"
    token_file.write_text(TOKEN)
    config = workdir / "prometheus.yml"
    # JSON is YAML: no YAML writer needed.
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "500ms", "scrape_timeout": "400ms"},
                "scrape_configs": [
                    {
                        "job_name": "pulse",
                        "metrics_path": "/metrics",
                        "authorization": {"type": "Bearer", "credentials_file": str(token_file)},
                        "static_configs": [{"targets": [urllib.parse.urlsplit(target).netloc]}],
                    }
                ],
            }
        )
    )
    base = f"http://127.0.0.1:{free_port()}"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{base}/-/ready", timeout=1) as response:  # noqa: S310
                return bool(response.status == 200)
        except OSError:
            return False

    args = [
        PROMETHEUS,
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address={base.removeprefix('http://')}",
        "--log.level=warn",
    ]
    with process("prometheus", args, ready=ready, timeout=60):
        yield base


def query(prom: str, expr: str) -> list[dict[str, Any]]:
    answer = _get_json(f"{prom}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def scalar(prom: str, expr: str) -> float | None:
    result = query(prom, expr)
    return float(result[0]["value"][1]) if result else None


async def until_value(prom: str, expr: str, expected: float, timeout: float = 20) -> None:
    """Poll Prometheus until ``expr`` has been scraped with ``expected``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen: float | None = None
    while loop.time() < deadline:
        seen = await asyncio.to_thread(scalar, prom, expr)
        if seen == expected:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{expr}: expected {expected}, Prometheus last had {seen}")


def test_prometheus_scrapes_metrics_and_counts_the_open_sockets(
    owner: Member, web: WebPeer, tmp_path: Path
) -> None:
    monitor = make(owner, type="http", target=web.url("/ok"))
    make_due(monitor)
    run_claimed(claim_all())  # one recorded latency for the histogram
    cookie = owner.client().cookies["pulse_session"].value

    with daphne(env={"PULSE_METRICS_TOKEN": TOKEN}) as base, prometheus(base, tmp_path) as prom:
        ws_url = base.replace("http://", "ws://") + "/ws/org/"
        headers = {"Origin": base, "Cookie": f"pulse_session={cookie}"}

        async def scenario() -> None:
            async with aiohttp.ClientSession() as session:
                await until_value(prom, 'up{job="pulse"}', 1)  # the token was accepted
                await until_value(prom, "websocket_connections", 0)
                sockets = []
                for _ in range(SOCKETS):
                    ws = await session.ws_connect(ws_url, headers=headers)
                    snapshot = await ws.receive(timeout=10)  # sent after it was counted
                    assert snapshot.type == aiohttp.WSMsgType.TEXT, snapshot
                    sockets.append(ws)
                await until_value(prom, "websocket_connections", SOCKETS)
                await sockets.pop().close()
                await until_value(prom, "websocket_connections", SOCKETS - 1)
                for ws in sockets:
                    await ws.close()
                await until_value(prom, "websocket_connections", 0)

        asyncio.run(asyncio.wait_for(scenario(), timeout=120))

        assert scalar(prom, "active_monitors") == 1
        assert scalar(prom, "monitor_check_duration_milliseconds_count") == 1
        assert scalar(prom, 'monitor_check_duration_milliseconds_bucket{le="+Inf"}') == 1
        assert scalar(prom, 'monitor_checks_total{outcome="ok"}') == 1
        # Every SPEC §12 name reached Prometheus's storage.
        names = set(_get_json(f"{prom}/api/v1/label/__name__/values")["data"])
        for name in (
            "http_requests_total",
            "http_request_duration_seconds_bucket",
            "monitor_checks_total",
            "monitor_check_duration_milliseconds_bucket",
            "active_monitors",
            "active_incidents",
            "scheduler_lag_seconds",
            "outbox_notifications",
            "websocket_connections",
        ):
            assert name in names, name
