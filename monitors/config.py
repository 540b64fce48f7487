"""Validation and normalization of monitor input, per monitor type.

Forms, the API and the config-as-code import all call :func:`validate_monitor_input`;
the probes (``monitors/probes``) trust what it returns, so every default a probe
reads is filled in here. Also home of the small parsers both sides share (JSON
path, status ranges, host:port).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from django.core.exceptions import ValidationError

from monitors import limits

MONITOR_TYPES = ("http", "tcp", "icmp", "dns", "push", "metric")
PROBE_TYPES = ("http", "tcp", "icmp", "dns")
MIN_INTERVAL = int(limits.INTERVAL_SECONDS.low)
MAX_INTERVAL = int(limits.INTERVAL_SECONDS.high)
MIN_TIMEOUT = int(limits.TIMEOUT_SECONDS.low)
MAX_TIMEOUT = int(limits.TIMEOUT_SECONDS.high)

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
JSON_OPS = ("eq", "ne", "lt", "le", "gt", "ge", "contains", "exists")
NUMERIC_JSON_OPS = ("lt", "le", "gt", "ge")
DNS_RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS")
METRIC_OPS = ("gt", "ge", "lt", "le")
MAX_KEYWORD = limits.KEYWORD
MAX_URL = limits.TARGET
MAX_BODY = limits.BODY
MAX_HEADERS = limits.HEADERS
MAX_TCP_PAYLOAD = limits.TCP_PAYLOAD
MAX_PING_COUNT = int(limits.CONFIG_INTS["count"].high)
MAX_DNS_EXPECTED = limits.DNS_EXPECTED

URL_MESSAGE = "Enter a full URL starting with http:// or https://"
PORT_MESSAGE = "Port must be between 1 and 65535"
RECORD_TYPE_MESSAGE = "Record type must be one of " + ", ".join(DNS_RECORD_TYPES)

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_METRIC_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
_METRIC_HOST = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")
_STATUS = re.compile(r"^\s*([1-5]\d\d)\s*(?:-\s*([1-5]\d\d)\s*)?$")


class _Errors:
    """Collects messages per field so one submission shows every problem at once."""

    def __init__(self) -> None:
        self.by_field: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.by_field.setdefault(field, []).append(message)

    def has(self, field: str) -> bool:
        return field in self.by_field

    def raise_if_any(self) -> None:
        if self.by_field:
            raise ValidationError(self.by_field)


# ---------------------------------------------------------------- shared parsers


class JsonPathError(ValueError):
    pass


_PATH_TOKEN = re.compile(
    r"""
    \.?(?P<name>[A-Za-z_$@\-][\w$@\-]*)      # .name or a leading name
    | \.(?P<dindex>\d+)                      # .0, as some tools write indexes
    | \[(?P<index>-?\d+)\]                   # [0]
    | \[(?P<q>["'])(?P<key>(?:\\.|(?!(?P=q)).)*)(?P=q)\]   # ["a.b"] or ['a b']
    """,
    re.VERBOSE,
)


def parse_json_path(path: str) -> list[str | int]:
    """``data.items[0].status`` → ``["data", "items", 0, "status"]``.

    A leading ``$`` / ``$.`` is accepted and ignored; quoted brackets admit keys
    with dots or spaces. Raises :class:`JsonPathError` on anything else.
    """
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
        if text.startswith(".") and not text.startswith(".."):
            text = text[1:]
    if not text:
        raise JsonPathError("JSON path is empty")
    parts: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _PATH_TOKEN.match(text, pos)
        if match is None or (pos == 0 and text.startswith(".")):
            raise JsonPathError(f"cannot parse JSON path at position {pos + 1}: {text[pos:]!r}")
        if match.group("name") is not None:
            if pos > 0 and not text.startswith(".", pos):
                raise JsonPathError(f"expected '.' or '[' at position {pos + 1}")
            parts.append(match.group("name"))
        elif match.group("dindex") is not None:
            parts.append(int(match.group("dindex")))
        elif match.group("index") is not None:
            parts.append(int(match.group("index")))
        else:
            parts.append(re.sub(r"\\(.)", r"\1", match.group("key")))
        pos = match.end()
    return parts


def format_json_path(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_$@\-][\w$@\-]*", part):
            out += f".{part}" if out else part
        else:
            out += '["' + part.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return out


def parse_status_range(text: str) -> tuple[int, int]:
    """``"200-299"`` → (200, 299); ``"301"`` → (301, 301)."""
    match = _STATUS.match(str(text))
    if match is None:
        raise ValueError(f"{text!r} is not a status code or range like 200-299")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    if high < low:
        raise ValueError(f"{text!r}: range start is above its end")
    return low, high


def split_host_port(target: str) -> tuple[str, int]:
    """``host:port`` / ``[v6]:port`` → (host, port). Raises ValueError."""
    text = target.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or not text[end + 1 :].startswith(":"):
            raise ValueError("Enter host:port, with IPv6 addresses as [::1]:port")
        host, port_text = text[1:end], text[end + 2 :]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise ValueError("Enter host:port, e.g. db.example.com:5432")
        if ":" in host:
            raise ValueError("Write IPv6 addresses in brackets: [2001:db8::1]:443")
    if not port_text.isdigit():
        raise ValueError(PORT_MESSAGE)
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(PORT_MESSAGE)
    return host, port


def normalize_host(host: str) -> str:
    """Lowercased, IDNA-encoded host name or canonical IP text. Raises ValueError."""
    text = host.strip()
    if not text:
        raise ValueError("Enter a host name or IP address")
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        pass
    return normalize_dns_name(text)


def normalize_dns_name(name: str) -> str:
    text = name.strip().rstrip(".")
    if not text:
        raise ValueError("Enter a DNS name")
    try:
        ascii_name = text.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise ValueError(f"{name!r} is not a valid DNS name") from exc
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"{name!r} is not a valid DNS name")
    # All-numeric last label: a mistyped IPv4 address, not a name.
    if labels[-1].isdigit():
        raise ValueError(f"{name!r} is not a valid host name or IP address")
    return ascii_name


def format_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ---------------------------------------------------------------- field helpers


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _int_setting(
    errors: _Errors,
    config: Mapping[str, Any],
    key: str,
    *,
    default: int | None,
) -> int | None:
    """A whole-number setting within its bound in ``limits.CONFIG_INTS``."""
    bound = limits.CONFIG_INTS[key]
    value = config.get(key, default)
    if value is None:
        return None
    if not _is_int(value) or value not in bound:
        errors.add(
            f"config.{key}",
            f"Enter a whole number between {bound.whole_low} and {bound.whole_high}",
        )
        return default
    return int(value)


def _bool_setting(errors: _Errors, config: Mapping[str, Any], key: str, default: bool) -> bool:
    value = config.get(key, default)
    if not isinstance(value, bool):
        errors.add(f"config.{key}", "Enter true or false")
        return default
    return value


def _str_setting(
    errors: _Errors, config: Mapping[str, Any], key: str, *, max_length: int, default: str = ""
) -> str:
    value = config.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        errors.add(f"config.{key}", "Enter text")
        return default
    if len(value) > max_length:
        errors.add(f"config.{key}", f"At most {max_length} characters")
    return value


# ---------------------------------------------------------------- per type

_ALLOWED_KEYS: dict[str, frozenset[str]] = {
    "http": frozenset(
        {
            "method",
            "headers",
            "body",
            "accepted_status",
            "keyword",
            "keyword_absent",
            "json_path",
            "json_op",
            "json_expected",
            "max_response_ms",
            "follow_redirects",
            "tls_expiry_days",
            "verify_tls",
        }
    ),
    "tcp": frozenset({"send", "expect"}),
    "icmp": frozenset({"count", "max_loss_pct"}),
    "dns": frozenset({"record_type", "resolver", "port", "expected"}),
    "push": frozenset({"grace_seconds", "cron", "tz"}),
    "metric": frozenset({"host", "metric", "op", "threshold", "for_seconds"}),
}


def _http_target(errors: _Errors, target: str) -> str:
    text = target.strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port  # raises ValueError on a bad port
    except ValueError:
        errors.add("target", URL_MESSAGE)
        return text
    if (
        parts.scheme.lower() not in ("http", "https")
        or not host
        or len(text) > MAX_URL
        or re.search(r"[\s\x00-\x1f\x7f]", text)
    ):
        errors.add("target", URL_MESSAGE)
        return text
    if port == 0:
        errors.add("target", PORT_MESSAGE)
        return text
    try:
        norm_host = normalize_host(host)
    except ValueError as exc:
        errors.add("target", str(exc))
        return text
    netloc = f"[{norm_host}]" if ":" in norm_host else norm_host
    if port is not None:
        netloc += f":{port}"
    if parts.username is not None:
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{netloc}"
    # The fragment is never sent to the server, so it is dropped.
    url = urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))
    if len(url) > limits.TARGET:  # an IDNA host can make the stored form longer
        errors.add("target", f"Keep the URL under {limits.TARGET} characters")
    return url


def _http_config(errors: _Errors, config: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}

    method = config.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
        errors.add("config.method", "Method must be one of " + ", ".join(HTTP_METHODS))
        method = "GET"
    out["method"] = method.upper()

    headers = config.get("headers") or {}
    clean_headers: dict[str, str] = {}
    if not isinstance(headers, Mapping):
        errors.add("config.headers", "Enter headers as name: value pairs")
    elif len(headers) > MAX_HEADERS:
        errors.add("config.headers", f"At most {MAX_HEADERS} headers")
    else:
        for name, value in headers.items():
            if not isinstance(name, str) or not isinstance(value, str):
                errors.add("config.headers", "Header names and values must be text")
            elif "\r" in name + value or "\n" in name + value:
                errors.add("config.headers", f"Header {name!r} must not contain line breaks")
            elif not _HEADER_NAME.match(name):
                errors.add("config.headers", f"{name!r} is not a valid header name")
            elif len(value) > limits.HEADER_VALUE:
                errors.add("config.headers", f"Header {name!r} is too long")
            else:
                clean_headers[name] = value
    out["headers"] = clean_headers

    out["body"] = _str_setting(errors, config, "body", max_length=MAX_BODY)

    accepted = config.get("accepted_status", ["200-299"])
    if isinstance(accepted, str | int):
        accepted = [accepted]
    clean_accepted: list[str] = []
    if not isinstance(accepted, list | tuple) or not accepted:
        errors.add("config.accepted_status", "List at least one status code or range")
    else:
        for item in accepted:
            try:
                low, high = parse_status_range(str(item))
            except ValueError as exc:
                errors.add("config.accepted_status", str(exc))
                continue
            clean_accepted.append(str(low) if low == high else f"{low}-{high}")
    out["accepted_status"] = clean_accepted or ["200-299"]

    out["keyword"] = _str_setting(errors, config, "keyword", max_length=MAX_KEYWORD)
    out["keyword_absent"] = _str_setting(errors, config, "keyword_absent", max_length=MAX_KEYWORD)

    json_path = _str_setting(errors, config, "json_path", max_length=limits.JSON_PATH).strip()
    if json_path:
        try:
            out["json_path"] = format_json_path(parse_json_path(json_path))
        except JsonPathError as exc:
            errors.add("config.json_path", f"Not a valid JSON path: {exc}")
            out["json_path"] = json_path
        op = config.get("json_op", "eq")
        if op not in JSON_OPS:
            errors.add("config.json_op", "Comparison must be one of " + ", ".join(JSON_OPS))
            op = "eq"
        out["json_op"] = op
        expected = config.get("json_expected")
        if op == "exists":
            expected = None
        elif expected is None or expected == "":
            errors.add("config.json_expected", "Enter the value to compare with")
        elif not isinstance(expected, str | int | float | bool) or (
            isinstance(expected, float) and not math.isfinite(expected)
        ):
            errors.add("config.json_expected", "Enter text or a number")
        elif op in NUMERIC_JSON_OPS and not _numeric(expected):
            errors.add("config.json_expected", f"Comparison {op} needs a number")
        elif isinstance(expected, str) and len(expected) > MAX_KEYWORD:
            errors.add("config.json_expected", f"At most {MAX_KEYWORD} characters")
        out["json_expected"] = expected
    else:
        # "eq" is the normalized default, so a stored config validates again as is.
        if config.get("json_op") not in (None, "", "eq"):
            errors.add("config.json_op", "Set a JSON path first")
        if config.get("json_expected") not in (None, ""):
            errors.add("config.json_expected", "Set a JSON path first")
        out["json_path"] = ""
        out["json_op"] = "eq"
        out["json_expected"] = None

    out["max_response_ms"] = _int_setting(errors, config, "max_response_ms", default=None)
    out["follow_redirects"] = _bool_setting(errors, config, "follow_redirects", True)
    out["tls_expiry_days"] = _int_setting(errors, config, "tls_expiry_days", default=14)
    out["verify_tls"] = _bool_setting(errors, config, "verify_tls", True)
    return out


def _numeric(value: Any) -> bool:
    if _is_number(value):
        return True
    if isinstance(value, str):
        try:
            return math.isfinite(float(value))
        except ValueError:
            return False
    return False


def _tcp_target(errors: _Errors, target: str) -> str:
    try:
        host, port = split_host_port(target)
        return format_host_port(normalize_host(host), port)
    except ValueError as exc:
        errors.add("target", str(exc))
        return target.strip()


def _tcp_config(errors: _Errors, config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "send": _str_setting(errors, config, "send", max_length=MAX_TCP_PAYLOAD),
        "expect": _str_setting(errors, config, "expect", max_length=MAX_TCP_PAYLOAD),
    }


def _host_target(errors: _Errors, target: str) -> str:
    try:
        return normalize_host(target)
    except ValueError as exc:
        errors.add("target", str(exc))
        return target.strip()


def _icmp_config(errors: _Errors, config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "count": _int_setting(errors, config, "count", default=3),
        "max_loss_pct": _int_setting(errors, config, "max_loss_pct", default=0),
    }


def _dns_target(errors: _Errors, target: str) -> str:
    try:
        return normalize_dns_name(target)
    except ValueError as exc:
        errors.add("target", str(exc))
        return target.strip()


def _dns_config(errors: _Errors, config: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    record_type = config.get("record_type", "A")
    if not isinstance(record_type, str) or record_type.upper() not in DNS_RECORD_TYPES:
        errors.add("config.record_type", RECORD_TYPE_MESSAGE)
        record_type = "A"
    out["record_type"] = record_type.upper()

    resolver = config.get("resolver") or None
    if resolver is not None:
        try:
            resolver = str(ipaddress.ip_address(str(resolver).strip().strip("[]")))
        except ValueError:
            errors.add("config.resolver", "Enter the resolver's IP address")
    out["resolver"] = resolver

    port = config.get("port", 53)
    if not _is_int(port) or port not in limits.CONFIG_INTS["port"]:
        errors.add("config.port", PORT_MESSAGE)
        port = 53
    out["port"] = port

    expected = config.get("expected") or []
    if isinstance(expected, str):
        expected = [expected]
    if not isinstance(expected, list | tuple) or len(expected) > MAX_DNS_EXPECTED:
        errors.add("config.expected", f"List up to {MAX_DNS_EXPECTED} expected answers")
        expected = []
    clean: list[str] = []
    for item in expected:
        if not isinstance(item, str) or not item.strip() or len(item) > MAX_KEYWORD:
            errors.add("config.expected", "Each expected answer must be non-empty text")
            continue
        clean.append(" ".join(item.split()))
    out["expected"] = clean
    return out


def _push_config(errors: _Errors, config: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "grace_seconds": _int_setting(errors, config, "grace_seconds", default=60)
    }
    cron = config.get("cron") or ""
    if (
        not isinstance(cron, str)
        or len(cron) > limits.CRON
        or (cron.strip() and not croniter.is_valid(cron.strip()))
    ):
        errors.add("config.cron", "Not a valid cron expression")
        cron = ""
    out["cron"] = " ".join(cron.split())
    tz = config.get("tz") or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        errors.add("config.tz", "Unknown time zone")
        tz = "UTC"
    out["tz"] = tz
    return out


def _metric_config(errors: _Errors, config: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    host = config.get("host")
    if not isinstance(host, str) or not _METRIC_HOST.match(host.strip()):
        errors.add("config.host", "Enter the host name the agent reports")
        host = ""
    out["host"] = host.strip()
    metric = config.get("metric")
    if not isinstance(metric, str) or not _METRIC_NAME.match(metric.strip()):
        errors.add("config.metric", "Enter a metric name such as cpu.usage")
        metric = ""
    out["metric"] = metric.strip()
    op = config.get("op", "gt")
    if op not in METRIC_OPS:
        errors.add("config.op", "Comparison must be one of " + ", ".join(METRIC_OPS))
        op = "gt"
    out["op"] = op
    threshold = config.get("threshold")
    if not _is_number(threshold):
        errors.add("config.threshold", "Enter a number")
        threshold = 0
    out["threshold"] = threshold
    out["for_seconds"] = _int_setting(errors, config, "for_seconds", default=0)
    return out


_TARGETS: dict[str, Callable[[_Errors, str], str]] = {
    "http": _http_target,
    "tcp": _tcp_target,
    "icmp": _host_target,
    "dns": _dns_target,
}
_CONFIGS: dict[str, Callable[[_Errors, Mapping[str, Any]], dict[str, Any]]] = {
    "http": _http_config,
    "tcp": _tcp_config,
    "icmp": _icmp_config,
    "dns": _dns_config,
    "push": _push_config,
    "metric": _metric_config,
}


def validate_monitor_input(
    *,
    type: str,
    target: str,
    interval_seconds: int,
    timeout_seconds: int,
    config: Mapping[str, Any] | None,
) -> tuple[str, dict[str, Any]]:
    """Return (normalized target, normalized config with every default filled in),
    or raise ``ValidationError({field: [messages]})`` naming every bad field."""
    errors = _Errors()
    kind = type
    if kind not in MONITOR_TYPES:
        errors.add("type", "Type must be one of " + ", ".join(MONITOR_TYPES))
        errors.raise_if_any()

    if not _is_int(interval_seconds) or not MIN_INTERVAL <= interval_seconds <= MAX_INTERVAL:
        errors.add(
            "interval_seconds",
            f"Interval must be between {MIN_INTERVAL} and {MAX_INTERVAL} seconds",
        )
    if not _is_int(timeout_seconds) or not MIN_TIMEOUT <= timeout_seconds <= MAX_TIMEOUT:
        errors.add(
            "timeout_seconds", f"Timeout must be between {MIN_TIMEOUT} and {MAX_TIMEOUT} seconds"
        )
    elif not errors.has("interval_seconds") and timeout_seconds >= interval_seconds:
        errors.add("timeout_seconds", "Timeout must be shorter than the interval")

    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        errors.add("config", "Settings must be an object")
        config = {}
    for key in config:
        if key not in _ALLOWED_KEYS[kind]:
            errors.add("config", f"Unknown setting: {key}")

    target = target if isinstance(target, str) else ""
    if kind in ("push", "metric"):
        norm_target = ""  # push has none; metric's is derived from its config below
    elif not target.strip():
        errors.add("target", URL_MESSAGE if kind == "http" else "Enter a target")
        norm_target = ""
    else:
        norm_target = _TARGETS[kind](errors, target)

    norm_config = _CONFIGS[kind](errors, config)
    if kind == "metric":
        norm_target = f"{norm_config['host']}/{norm_config['metric']}"
    errors.raise_if_any()
    return norm_target, norm_config
