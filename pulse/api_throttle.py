"""Per-(org, ip) rate limit for /v1 (SPEC §9): a fixed-window counter in Redis.

``cache.add`` + ``cache.incr`` are atomic in Redis, so concurrent requests from many
app processes count exactly; DRF's SimpleRateThrottle keeps a list per key and loses
counts under concurrency. Over the limit, DRF raises Throttled and the problem+json
handler answers 429 with ``Retry-After`` (the seconds left in the window).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from pulse.middleware import client_ip

if TYPE_CHECKING:
    from rest_framework.views import APIView

DEFAULT_RATE = "600/m"
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"600/m"`` → (600, 60). Raises ValueError on anything else, loudly."""
    count, _, period = rate.partition("/")
    seconds = _PERIODS.get(period.strip()[:1].lower())
    if not count.strip().isdigit() or seconds is None:
        raise ValueError(f"API_RATE must look like 600/m, not {rate!r}")
    return int(count), seconds


class OrgIpRateThrottle(BaseThrottle):
    scope = "api"

    def __init__(self) -> None:
        self._wait: float | None = None

    def cache_key(self, request: Request) -> str:
        membership = getattr(request._request, "membership", None)
        org = str(getattr(membership, "org_id", None) or "-")
        return f"api-rate:{org}:{client_ip(request._request) or '-'}"

    def allow_request(self, request: Request, view: APIView) -> bool:
        limit, period = parse_rate(getattr(settings, "API_RATE", DEFAULT_RATE))
        now = time.time()
        window = int(now // period)
        key = f"{self.cache_key(request)}:{period}:{window}"
        # The key outlives its window a little, so a slow clock never resets a count.
        cache.add(key, 0, timeout=period + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=period + 5)
            count = 1
        if count <= limit:
            return True
        self._wait = (window + 1) * period - now
        return False

    def wait(self) -> float | None:
        return self._wait
