"""Fallback probe target without nginx: ``python -m bench.target_app PORT [LOGFILE]``.
``GET /ok`` answers 200 "ok"; with LOGFILE, one ``<unix time> <m>`` line per request."""

from __future__ import annotations

import contextlib
import sys
import time
from typing import IO

from aiohttp import web


def serve(port: int, log: IO[str] | None) -> None:
    flushed = [time.monotonic()]

    async def ok(request: web.Request) -> web.Response:
        if log is not None:
            log.write(f"{time.time():.3f} {request.query.get('m', '-')}\n")
            if time.monotonic() - flushed[0] > 1:
                log.flush()
                flushed[0] = time.monotonic()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/ok", ok)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def main(argv: list[str]) -> None:
    port = int(argv[0])
    with contextlib.ExitStack() as stack:
        log = None
        if len(argv) > 1 and argv[1]:
            log = stack.enter_context(open(argv[1], "a", buffering=1 << 16))
        serve(port, log)


if __name__ == "__main__":
    main(sys.argv[1:])
