"""Parsers for pushed host metrics (SPEC §9 ``/v1/ingest/metrics``).

Three wire formats, all turned into :class:`Batch` (samples grouped by host):

**Native JSON** (``application/json``, an object)::

    {"host": "web-1", "labels": {"env": "prod"},            # labels: optional, of the host
     "samples": [{"name": "cpu.usage", "value": 93.5,
                  "labels": {"core": "0"},                   # optional
                  "ts": "2026-01-01T12:00:00Z"}]}            # optional: ISO 8601 or unix s

**collectd** ``write_http`` with ``Format "JSON"`` (``application/json``, a list of
value lists). Each value list holds one value per data source; a ``null`` value (collectd
writes one for the first reading of a rate) is skipped. The metric name is::

    plugin[.plugin_instance].type[.type_instance][.dsname when the type has >1 sources]

so ``load`` gives ``load.load.shortterm`` / ``midterm`` / ``longterm``, ``memory`` gives
``memory.memory.used``, ``cpu`` gives ``cpu.0.cpu.user`` (per core) or, with
``ReportByCpu false`` and ``ValuesPercentage true``, ``cpu.percent.active``;
``interface`` gives ``interface.eth0.if_octets.rx``. Characters a metric name cannot
hold (``.`` inside a part, ``/``, spaces) become ``_``. Labels stay empty: the name
carries the instance.

**Prometheus text exposition 0.0.4** (``text/plain; version=0.0.4``): ``# HELP`` /
``# TYPE`` lines and comments, label values with ``\\\\``, ``\\"`` and ``\\n`` escapes,
an optional timestamp in milliseconds. Non-finite values (``NaN``, ``+Inf``, ``-Inf``)
are skipped. The host is the ``host`` query parameter or else each sample's
``instance`` label (which is then removed from the labels).

Validation is strict: a request with any bad sample is refused as a whole with a
field-level error per problem (the first :data:`MAX_ERRORS`), so an agent never learns
of half-stored data only later.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pulse import api_json

MAX_BODY_BYTES = 1024 * 1024
MAX_SAMPLES = 10_000
MAX_HOSTS = 100
MAX_LABELS = 32
MAX_LABEL_NAME = 100
MAX_LABEL_VALUE = 500
MAX_SKEW_SECONDS = 24 * 3600
MAX_ERRORS = 20

# Same shapes as a metric monitor's config accepts (monitors.config), so every stored
# name and host can be alerted on.
NAME_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
HOST_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")
LABEL_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")  # MAX_LABEL_NAME

NAME_MESSAGE = "Use 1-200 letters, digits, '.', '_', ':' or '-'"
HOST_MESSAGE = "Use 1-255 letters, digits, '.', '_', ':' or '-'"


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    value: float
    ts: float  # unix seconds
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Batch:
    samples: dict[str, list[Sample]] = field(default_factory=dict)  # by host
    host_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    skipped: int = 0  # null (collectd) or non-finite (Prometheus) values

    @property
    def count(self) -> int:
        return sum(len(rows) for rows in self.samples.values())

    def add(self, host: str, sample: Sample) -> None:
        self.samples.setdefault(host, []).append(sample)


class IngestError(Exception):
    """A refused request: HTTP status, a sentence, and errors per field or line."""

    def __init__(
        self, detail: str, *, status: int = 400, errors: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.errors = errors or {}


class _Errors:
    def __init__(self) -> None:
        self.by_field: dict[str, list[str]] = {}
        self.total = 0

    def add(self, where: str, message: str) -> None:
        self.total += 1
        if len(self.by_field) < MAX_ERRORS or where in self.by_field:
            self.by_field.setdefault(where, []).append(message)

    def raise_if_any(self, what: str) -> None:
        if not self.total:
            return
        more = f" (showing the first {len(self.by_field)})" if self.total > MAX_ERRORS else ""
        noun = "problem" if self.total == 1 else "problems"
        raise IngestError(
            f"The {what} has {self.total} {noun}{more}; nothing was stored.",
            errors=self.by_field,
        )


def _too_many(count: int) -> IngestError:
    return IngestError(
        f"Too many samples: at most {MAX_SAMPLES:,} per request; send them in smaller batches.",
        status=413,
        errors={"samples": [f"{count:,} or more samples; the limit is {MAX_SAMPLES:,}"]},
    )


def _check_ts(ts: float, now: float, *, unit: str = "s") -> str | None:
    if abs(ts - now) <= MAX_SKEW_SECONDS:
        return None
    if unit == "s" and abs(ts / 1000 - now) <= MAX_SKEW_SECONDS:
        return "Timestamp looks like milliseconds; send unix seconds"
    if unit == "ms" and abs(ts * 1000 - now) <= MAX_SKEW_SECONDS:
        return "Timestamp looks like seconds; this format takes milliseconds"
    return "Timestamp must be within one day of the server's clock (check the agent's clock)"


def _check_labels(labels: Any, where: str, errors: _Errors) -> dict[str, str]:
    if labels is None:
        return {}
    if not isinstance(labels, Mapping):
        errors.add(where, "Labels must be an object of name: text pairs")
        return {}
    if len(labels) > MAX_LABELS:
        errors.add(where, f"At most {MAX_LABELS} labels")
        return {}
    clean: dict[str, str] = {}
    for name, value in labels.items():
        if not isinstance(name, str) or not LABEL_NAME_RE.match(name):
            errors.add(
                where,
                f"Label name {str(name)[:40]!r} must start with a letter or '_' and use at "
                f"most {MAX_LABEL_NAME} letters, digits, '_', '.' or '-'",
            )
        elif not isinstance(value, str):
            errors.add(where, f"Label {name!r} must be text")
        elif len(value) > MAX_LABEL_VALUE:
            errors.add(where, f"Label {name!r} is longer than {MAX_LABEL_VALUE} characters")
        else:
            clean[name] = value
    return clean


def _number(value: Any) -> float | None:
    """A finite number (not a bool), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def load_json(body: bytes) -> Any:
    """The API's one JSON reader (strict UTF-8, no NaN, no NUL or lone surrogates,
    bounded depth), its refusals as this module's 400s."""
    try:
        return api_json.load_json(body)
    except api_json.JSONBodyError as exc:
        raise IngestError(exc.detail, errors=exc.errors or None) from exc


def parse_json(body: bytes, *, now: float) -> Batch:
    """Native (an object with ``samples``) or collectd (a list), told apart by shape."""
    data = load_json(body)
    if isinstance(data, list):
        return parse_collectd(data, now=now)
    if isinstance(data, dict) and "samples" in data:
        return parse_native(data, now=now)
    raise IngestError(
        "Expected a JSON object with 'host' and 'samples' (native format) or a list of "
        'collectd value lists (write_http with Format "JSON").',
        errors={"body": ["Unrecognised JSON shape"]},
    )


# ---------------------------------------------------------------------------- native


def _native_ts(raw: Any, now: float) -> float | str:
    """Unix seconds, or an error message."""
    if raw is None:
        return now
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            return "Enter an ISO 8601 time such as 2026-01-01T12:00:00Z, or unix seconds"
        if parsed.tzinfo is None:
            return "Add a time zone to the timestamp (for example Z or +02:00)"
        return parsed.timestamp()
    number = _number(raw)
    if number is None:
        return "Enter an ISO 8601 time or unix seconds"
    return number


def parse_native(data: Mapping[str, Any], *, now: float) -> Batch:
    errors = _Errors()
    host = data.get("host")
    if not isinstance(host, str) or not HOST_RE.match(host):
        errors.add("host", HOST_MESSAGE)
        host = ""
    # Unknown fields are refused by name, as on every /v1 write (pulse.api_input).
    for key in sorted(set(data) - {"host", "labels", "samples"}):
        errors.add(str(key)[:100], "Unknown field")
    host_labels = _check_labels(data.get("labels"), "labels", errors)
    samples = data.get("samples")
    if not isinstance(samples, list):
        errors.add("samples", "Samples must be a list")
        samples = []
    if len(samples) > MAX_SAMPLES:
        raise _too_many(len(samples))
    batch = Batch()
    rows: list[Sample] = []
    for i, item in enumerate(samples):
        where = f"samples[{i}]"
        if not isinstance(item, dict):
            errors.add(where, "Each sample must be an object with name and value")
            continue
        for key in sorted(set(item) - {"name", "value", "labels", "ts"}):
            errors.add(f"{where}.{str(key)[:100]}", "Unknown field")
        name = item.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            errors.add(f"{where}.name", NAME_MESSAGE)
            continue
        value = _number(item.get("value"))
        if value is None:
            errors.add(f"{where}.value", "Value must be a finite number")
            continue
        ts = _native_ts(item.get("ts"), now)
        if isinstance(ts, str):
            errors.add(f"{where}.ts", ts)
            continue
        if (problem := _check_ts(ts, now)) is not None:
            errors.add(f"{where}.ts", problem)
            continue
        labels = _check_labels(item.get("labels"), f"{where}.labels", errors)
        rows.append(Sample(name, value, ts, labels))
    errors.raise_if_any("request")
    # Kept even when empty: a push with no samples still says the host is alive.
    batch.samples[host] = rows
    if host_labels:
        batch.host_labels[host] = host_labels
    return batch


# --------------------------------------------------------------------------- collectd

_NOT_NAME = re.compile(r"[^A-Za-z0-9_:-]")
_COLLECTD_KEYS = ("values", "dstypes", "dsnames", "time", "host", "plugin", "type")
_DSTYPES = {"gauge", "derive", "counter", "absolute"}


def _part(text: str) -> str:
    return _NOT_NAME.sub("_", text)


def collectd_name(plugin: str, plugin_instance: str, type_: str, type_instance: str) -> str:
    """``plugin[.plugin_instance].type[.type_instance]`` (the dsname is added by the
    caller when the type has more than one data source)."""
    parts = [_part(plugin)]
    if plugin_instance:
        parts.append(_part(plugin_instance))
    parts.append(_part(type_))
    if type_instance:
        parts.append(_part(type_instance))
    return ".".join(parts)


def parse_collectd(data: list[Any], *, now: float) -> Batch:
    errors = _Errors()
    batch = Batch()
    seen = 0
    for i, item in enumerate(data):
        where = f"[{i}]"
        if not isinstance(item, dict):
            errors.add(where, "Each entry must be a collectd value list (an object)")
            continue
        missing = [key for key in _COLLECTD_KEYS if key not in item]
        if missing:
            errors.add(where, f"Missing {', '.join(missing)}")
            continue
        values, dstypes, dsnames = item["values"], item["dstypes"], item["dsnames"]
        if not (
            isinstance(values, list)
            and isinstance(dstypes, list)
            and isinstance(dsnames, list)
            and values
            and len(values) == len(dstypes) == len(dsnames)
        ):
            errors.add(where, "values, dstypes and dsnames must be lists of the same length")
            continue
        seen += len(values)
        if seen > MAX_SAMPLES:
            raise _too_many(seen)
        host = item["host"]
        if not isinstance(host, str) or not HOST_RE.match(host):
            errors.add(f"{where}.host", HOST_MESSAGE)
            continue
        texts = [item.get(k) or "" for k in ("plugin", "plugin_instance", "type", "type_instance")]
        if not all(isinstance(t, str) and len(t) <= 128 for t in texts):
            errors.add(where, "plugin, plugin_instance, type and type_instance must be text")
            continue
        if not texts[0] or not texts[2]:
            errors.add(where, "plugin and type must not be empty")
            continue
        ts = _number(item["time"])
        if ts is None:
            errors.add(f"{where}.time", "time must be unix seconds")
            continue
        if (problem := _check_ts(ts, now)) is not None:
            errors.add(f"{where}.time", problem)
            continue
        base = collectd_name(*texts)
        for j, (value, dstype, dsname) in enumerate(zip(values, dstypes, dsnames, strict=True)):
            if not isinstance(dsname, str) or not dsname or dstype not in _DSTYPES:
                errors.add(f"{where}.dsnames[{j}]", "Unknown data source name or type")
                continue
            if value is None:  # collectd writes null for NaN (no rate yet)
                batch.skipped += 1
                continue
            number = _number(value)
            if number is None:
                errors.add(f"{where}.values[{j}]", "Value must be a number or null")
                continue
            name = f"{base}.{_part(dsname)}" if len(values) > 1 else base
            if not NAME_RE.match(name):
                errors.add(f"{where}", f"Metric name {name[:60]!r}… is too long")
                continue
            batch.add(host, Sample(name, number, ts))
    if len(batch.samples) > MAX_HOSTS:
        errors.add("host", f"At most {MAX_HOSTS} hosts per request")
    errors.raise_if_any("request")
    return batch


# ------------------------------------------------------------------------- Prometheus

_PROM_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_PROM_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_PROM_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_PROM_SPECIAL = {"nan": math.nan, "+inf": math.inf, "inf": math.inf, "-inf": -math.inf}
_PROM_TIMESTAMP = re.compile(r"-?\d{1,19}")
_PROM_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
_BLANK = " \t"


class _LineError(ValueError):
    pass


def _skip_blank(line: str, pos: int) -> int:
    while pos < len(line) and line[pos] in _BLANK:
        pos += 1
    return pos


def _label_value(line: str, pos: int) -> tuple[str, int]:
    """Read a quoted label value starting at the opening quote."""
    if pos >= len(line) or line[pos] != '"':
        raise _LineError(f"expected '\"' at column {pos + 1}")
    pos += 1
    out: list[str] = []
    while pos < len(line):
        char = line[pos]
        if char == "\\":
            if pos + 1 >= len(line):
                break
            nxt = line[pos + 1]
            if nxt == "n":
                out.append("\n")
            elif nxt in ('"', "\\"):
                out.append(nxt)
            else:
                raise _LineError(f"invalid escape '\\{nxt}' at column {pos + 1}")
            pos += 2
            continue
        if char == '"':
            return "".join(out), pos + 1
        out.append(char)
        pos += 1
    raise _LineError("unterminated label value")


def _labels(line: str, pos: int) -> tuple[dict[str, str], int]:
    """Parse ``{name="value",...}`` starting at ``{``; a trailing comma is allowed."""
    labels: dict[str, str] = {}
    pos += 1
    while True:
        pos = _skip_blank(line, pos)
        if pos < len(line) and line[pos] == "}":
            return labels, pos + 1
        match = _PROM_LABEL.match(line, pos)
        if match is None:
            raise _LineError(f"expected a label name at column {pos + 1}")
        name = match.group()
        pos = _skip_blank(line, match.end())
        if pos >= len(line) or line[pos] != "=":
            raise _LineError(f"expected '=' after label {name!r}")
        pos = _skip_blank(line, pos + 1)
        value, pos = _label_value(line, pos)
        if name in labels:
            raise _LineError(f"label {name!r} appears twice")
        labels[name] = value
        pos = _skip_blank(line, pos)
        if pos < len(line) and line[pos] == ",":
            pos += 1
            continue
        if pos < len(line) and line[pos] == "}":
            return labels, pos + 1
        raise _LineError(f"expected ',' or '}}' at column {pos + 1}")


def _prom_value(text: str) -> float:
    special = _PROM_SPECIAL.get(text.lower())
    if special is not None:
        return special
    if not _PROM_NUMBER.fullmatch(text):
        raise _LineError(f"{text[:40]!r} is not a number")
    return float(text)


def parse_prometheus_line(line: str) -> tuple[str, dict[str, str], float, int | None]:
    """One sample line → (name, labels, value, timestamp in ms or None)."""
    match = _PROM_NAME.match(line)
    if match is None:
        raise _LineError("expected a metric name")
    name = match.group()
    pos = match.end()
    if pos < len(line) and line[pos] not in _BLANK and line[pos] != "{":
        raise _LineError(f"unexpected {line[pos]!r} after the metric name")
    pos = _skip_blank(line, pos)
    labels: dict[str, str] = {}
    if pos < len(line) and line[pos] == "{":
        labels, pos = _labels(line, pos)
    rest = line[pos:].split()
    if not rest:
        raise _LineError("missing value")
    if len(rest) > 2:
        raise _LineError("unexpected text after the timestamp")
    value = _prom_value(rest[0])
    ts_ms: int | None = None
    if len(rest) == 2:
        if not _PROM_TIMESTAMP.fullmatch(rest[1]):
            raise _LineError(f"timestamp {rest[1][:40]!r} must be an integer in milliseconds")
        ts_ms = int(rest[1])
    return name, labels, value, ts_ms


def _prom_comment(line: str, types: dict[str, str]) -> None:
    parts = line[1:].split(None, 2)
    if len(parts) < 2 or parts[0] not in ("HELP", "TYPE"):
        return  # a plain comment
    keyword, name = parts[0], parts[1]
    if not _PROM_NAME.fullmatch(name):
        raise _LineError(f"{keyword} names an invalid metric {name[:60]!r}")
    if keyword == "TYPE":
        kind = parts[2].strip() if len(parts) > 2 else ""
        if kind not in _PROM_TYPES:
            raise _LineError(f"unknown metric type {kind[:40]!r}")
        if name in types:
            raise _LineError(f"second TYPE line for {name!r}")
        types[name] = kind


def parse_prometheus(body: bytes, *, now: float, host: str | None) -> Batch:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IngestError("The body is not UTF-8 text.") from exc
    if host is not None and not HOST_RE.match(host):
        raise IngestError("Invalid host parameter.", errors={"host": [HOST_MESSAGE]})
    errors = _Errors()
    batch = Batch()
    types: dict[str, str] = {}
    seen = 0
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.strip(_BLANK + "\r")
        if not line:
            continue
        where = f"line {number}"
        try:
            if line.startswith("#"):
                _prom_comment(line, types)
                continue
            name, labels, value, ts_ms = parse_prometheus_line(line)
        except _LineError as exc:
            errors.add(where, str(exc))
            continue
        seen += 1
        if seen > MAX_SAMPLES:
            raise _too_many(seen)
        if not math.isfinite(value):
            batch.skipped += 1
            continue
        sample_host = host
        if sample_host is None:
            sample_host = labels.pop("instance", None)
            if sample_host is None:
                errors.add(where, "No host: add ?host=<name> to the URL or an instance label")
                continue
            if not HOST_RE.match(sample_host):
                errors.add(where, f"instance label: {HOST_MESSAGE}")
                continue
        if len(name) > 200:
            errors.add(where, "Metric name is longer than 200 characters")
            continue
        ts = now if ts_ms is None else ts_ms / 1000
        if (problem := _check_ts(ts, now, unit="ms")) is not None:
            errors.add(where, problem)
            continue
        problems = _Errors()
        clean = _check_labels(labels, where, problems)
        if problems.total:
            for message in problems.by_field.get(where, []):
                errors.add(where, message)
            continue
        batch.add(sample_host, Sample(name, value, ts, clean))
    if len(batch.samples) > MAX_HOSTS:
        errors.add("host", f"At most {MAX_HOSTS} hosts per request")
    errors.raise_if_any("exposition")
    return batch
