#!/usr/bin/env python3
"""A small local service for the `make run` demo: endpoints that are healthy, slow,
flaky, and one that has a short outage every few minutes, plus a webhook sink that
shows the alerts Pulse sends. Loopback only.

    python scripts/demo_target.py --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

from aiohttp import web

OUTAGE_EVERY = 300.0  # seconds between outages of /api/orders
OUTAGE_LENGTH = 75.0  # long enough for three failed checks at 20 s: an incident


def in_outage(now: float) -> bool:
    return (now % OUTAGE_EVERY) > (OUTAGE_EVERY - OUTAGE_LENGTH)


async def home(request: web.Request) -> web.Response:
    return web.Response(
        text="<h1>Acme Shop</h1><p>Welcome to the demo shop.</p>", content_type="text/html"
    )


async def health(request: web.Request) -> web.Response:
    await asyncio.sleep(random.uniform(0.005, 0.03))
    return web.json_response({"status": "ok", "db": "ok"})


async def search(request: web.Request) -> web.Response:
    # Usually quick, sometimes slow: latency charts with some shape.
    await asyncio.sleep(random.choice([0.05, 0.08, 0.12, 0.2, 0.9]))
    return web.json_response({"results": 12})


async def checkout(request: web.Request) -> web.Response:
    if random.random() < 0.08:
        return web.json_response({"error": "payment gateway timeout"}, status=502)
    return web.json_response({"status": "ready"})


async def orders(request: web.Request) -> web.Response:
    if in_outage(time.time()):
        return web.json_response({"error": "database unavailable"}, status=503)
    return web.json_response({"data": {"queue": {"depth": random.randint(0, 40)}}})


async def hooks(request: web.Request) -> web.Response:
    body = await request.read()
    try:
        event = json.loads(body).get("type", "?")
    except ValueError:
        event = "?"
    print(f"demo-target: webhook {request.headers.get('webhook-id', '')[:12]} {event}", flush=True)
    return web.Response(status=204)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get("/health", health)
    app.router.add_get("/search", search)
    app.router.add_get("/checkout", checkout)
    app.router.add_get("/api/orders", orders)
    app.router.add_post("/hooks", hooks)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
