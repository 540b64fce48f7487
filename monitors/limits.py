"""Every bound on monitor input, in one table.

The HTML form (``monitors.forms``), the API serializers (``monitors.serializers``),
the type rules (``monitors.config``) and the services (``monitors.services``) all
read these, so no path can accept what another refuses, and none can hand the
database a number its column cannot hold ("integer out of range") or text longer
than its column ("value too long"). ``tests/monitors/test_limits.py`` checks each
bound against the model's columns.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bound:
    """A closed range; ``above`` makes the low end open (ratios: above 0)."""

    low: float
    high: float
    above: bool = False

    def __contains__(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        low_ok = value > self.low if self.above else value >= self.low
        return low_ok and value <= self.high

    @property
    def whole_low(self) -> int:
        """The smallest whole number inside (for integer inputs)."""
        return int(self.low) + 1 if self.above else int(self.low)

    @property
    def whole_high(self) -> int:
        return int(self.high)

    def message(self, unit: str = "") -> str:
        suffix = f" {unit}" if unit else ""
        return f"Enter a whole number between {self.whole_low} and {self.whole_high}{suffix}."


# ---------------------------------------------------------------- monitor fields
INTERVAL_SECONDS = Bound(10, 86400)
TIMEOUT_SECONDS = Bound(1, 60)
LATENCY_DEGRADED_MS = Bound(1, TIMEOUT_SECONDS.high * 1000)

# The state machine's settings (SPEC §6), whole numbers.
ALERT_INTS: dict[str, Bound] = {
    "fail_threshold": Bound(1, 100),
    "recover_threshold": Bound(1, 100),
    "window": Bound(2, 100),
}
# Its shares: above 0, at most 1 (the form shows them as whole percent).
RATIO = Bound(0, 1, above=True)
ALERT_RATIOS = ("degraded_ratio", "down_ratio", "flap_high", "flap_low")

# Whole-number settings inside ``config``, per key (the same key means the same
# thing in every type that has it).
CONFIG_INTS: dict[str, Bound] = {
    "max_response_ms": Bound(1, TIMEOUT_SECONDS.high * 1000),
    "tls_expiry_days": Bound(0, 365),
    "count": Bound(1, 10),
    "max_loss_pct": Bound(0, 99),
    "port": Bound(1, 65535),
    "grace_seconds": Bound(0, INTERVAL_SECONDS.high),
    "for_seconds": Bound(0, INTERVAL_SECONDS.high),
}

# Lengths in characters.
NAME = 200
TARGET = 2000  # the column; an http URL is checked after normalization too
TAG = 50
TAGS = 50  # how many
HEADERS = 50  # how many
HEADER_VALUE = 8192
BODY = 64 * 1024
KEYWORD = 1000
JSON_PATH = 500
TCP_PAYLOAD = 1000
DNS_EXPECTED = 20  # how many
HOST = 255
METRIC = 200
CRON = 100
TIME_ZONE = 64
# The form's tag input (comma-separated): every tag at its longest, with ", ".
TAGS_TEXT = TAGS * (TAG + 2)
