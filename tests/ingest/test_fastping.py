"""Heartbeats through the real ASGI app (daphne): the fast path in front of Django."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from monitors.models import Monitor
from tests import live
from tests.conftest import Member
from tests.monitors.test_pipeline import make


def call(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(  # noqa: S310 - loopback http only
        url, method=method, data=b"job output" if method == "POST" else None
    )
    try:
        # Generous: the first requests meet a freshly started daphne on a busy machine.
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def test_pings_over_asgi_stamp_the_monitor(owner: Member) -> None:
    monitor = make(owner, type="push", config={"grace_seconds": 30})
    token = monitor.heartbeat_token
    with live.daphne() as base:
        for method in ("GET", "POST"):
            status, headers, body = call(f"{base}/v1/ingest/heartbeat/{token}", method)
            assert status == 200 and json.loads(body) == {
                "ok": True,
                "paused": False,
                "received": "ok",
            }
            assert headers["x-content-type-options"] == "nosniff" and headers["x-request-id"]
        status, _, body = call(f"{base}/v1/ingest/heartbeat/{token}", "HEAD")
        assert status == 200 and body == b""
        assert call(f"{base}/v1/ingest/heartbeat/{token}/start")[0] == 200
        assert call(f"{base}/v1/ingest/heartbeat/{token}/fail")[0] == 200
        status, headers, body = call(f"{base}/v1/ingest/heartbeat/nope")
        problem: dict[str, Any] = json.loads(body)
        assert status == 404 and headers["content-type"] == "application/problem+json"
        assert problem["detail"] == "Unknown heartbeat token." and problem["request_id"]
        assert call(f"{base}/v1/ingest/heartbeat/{token}", "DELETE")[0] == 405
        assert call(f"{base}/v1/ingest/heartbeat/{'x' * 80}")[0] == 404
    fresh = Monitor.all_orgs.get(id=monitor.id)
    assert fresh.last_ping_at and fresh.last_start_at and fresh.last_fail_at
