"""The fault suite's webhook receiver (a subprocess): verifies each Standard Webhooks
signature, applies each ``webhook-id``'s effect once, and logs every request.

    BENCH_WEBHOOK_SECRET=whsec_... python -m bench.fault_receiver PORT LOG [--hold SECONDS]

A notification carries ``bench.release_at`` (Unix time) in its body. Before that time
the receiver answers 429 with ``Retry-After`` (the notifier honours it), so the row
stays in the outbox, in flight, for as long as the suite wants; from then on a valid
request is accepted: its effect is applied (once per ``webhook-id``; a repeat is a raw
duplicate delivery, acknowledged and not applied again), and the answer is held for
``--hold`` seconds, so that sends are in progress when a fault strikes.

One JSON line per request: ``t`` (arrival), ``id``, ``status`` answered, ``sig`` (the
signature verified), ``effect`` (applied now), ``event_id`` and ``seq`` of the body.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import math
import os
import sys
import time
from typing import Any, TextIO

TOLERANCE_S = 300  # Standard Webhooks: refuse timestamps further off than this


def verify(secret: str, headers: Any, body: bytes) -> bool:
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    given = headers.get("webhook-signature", "")
    if not msg_id or not stamp.isdigit() or abs(time.time() - int(stamp)) > TOLERANCE_S:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    expected = base64.b64encode(mac).decode()
    # The header may list several space-separated "v1,<sig>" (key rotation).
    for part in given.split():
        version, _, sig = part.partition(",")
        if version == "v1" and hmac.compare_digest(sig, expected):
            return True
    return False


class Receiver:
    def __init__(self, secret: str, log: TextIO, hold: float) -> None:
        self.secret = secret
        self.log = log
        self.hold = hold
        self.applied: set[str] = set()

    def record(self, **fields: Any) -> None:
        self.log.write(json.dumps(fields, separators=(",", ":")) + "\n")
        self.log.flush()

    async def hook(self, request: Any) -> Any:
        from aiohttp import web

        arrived = time.time()
        body = await request.read()
        msg_id = request.headers.get("webhook-id", "")
        ok = verify(self.secret, request.headers, body)
        try:
            payload = json.loads(body)
            bench = payload.get("bench") or {}
        except ValueError:
            payload, bench = {}, {}
        common = {
            "t": round(arrived, 4),
            "id": msg_id,
            "sig": ok,
            "seq": bench.get("seq"),
            "event_id": payload.get("event_id"),
        }
        if not ok:
            self.record(**common, status=401, effect=False)
            return web.Response(status=401, text="bad signature")
        release_at = float(bench.get("release_at") or 0)
        if arrived < release_at:
            wait = max(1, math.ceil(release_at - arrived))
            self.record(**common, status=429, effect=False)
            return web.Response(status=429, headers={"Retry-After": str(wait)}, text="later")
        effect = msg_id not in self.applied
        self.applied.add(msg_id)
        self.record(**common, status=204, effect=effect)
        if self.hold > 0:
            await asyncio.sleep(self.hold)
        return web.Response(status=204)


async def serve(port: int, receiver: Receiver) -> None:
    from aiohttp import web

    app = web.Application()
    app.router.add_post("/hook", receiver.hook)
    app.router.add_get("/ready", lambda _request: _ok())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


async def _ok() -> Any:
    from aiohttp import web

    return web.Response(text="ok")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fault_receiver")
    parser.add_argument("port", type=int)
    parser.add_argument("log")
    parser.add_argument("--hold", type=float, default=1.0)
    args = parser.parse_args(argv)
    with open(args.log, "a") as log:
        asyncio.run(serve(args.port, Receiver(os.environ["BENCH_WEBHOOK_SECRET"], log, args.hold)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
