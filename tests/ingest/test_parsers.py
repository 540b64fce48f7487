"""The three wire formats: what each accepts, skips and refuses (ingest.parsers)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence

import pytest

from ingest import parsers
from ingest.parsers import IngestError, Sample
from monitors.config import validate_monitor_input

NOW = time.time()


def native(samples: Sequence[object], host: object = "web-1", **extra: object) -> bytes:
    return json.dumps({"host": host, "samples": samples, **extra}).encode()


# A trimmed POST body that collectd 5.12 (write_http, Format "JSON", StoreRates true)
# sent with the cpu, load and memory plugins: the first rate of a derive is null.
COLLECTD_BODY = [
    {
        "values": [0.7265625, 1.20166015625, 0.92041015625],
        "dstypes": ["gauge", "gauge", "gauge"],
        "dsnames": ["shortterm", "midterm", "longterm"],
        "time": NOW - 2.007,
        "interval": 1.000,
        "host": "cd-probe",
        "plugin": "load",
        "plugin_instance": "",
        "type": "load",
        "type_instance": "",
    },
    {
        "values": [312238080],
        "dstypes": ["gauge"],
        "dsnames": ["value"],
        "time": NOW - 2.007,
        "interval": 1.000,
        "host": "cd-probe",
        "plugin": "memory",
        "plugin_instance": "",
        "type": "memory",
        "type_instance": "used",
    },
    {
        "values": [None],
        "dstypes": ["derive"],
        "dsnames": ["value"],
        "time": NOW - 1.014,
        "interval": 1.000,
        "host": "cd-probe",
        "plugin": "cpu",
        "plugin_instance": "0",
        "type": "cpu",
        "type_instance": "user",
    },
    {
        "values": [3.5],
        "dstypes": ["derive"],
        "dsnames": ["value"],
        "time": NOW - 0.014,
        "interval": 1.000,
        "host": "cd-probe",
        "plugin": "cpu",
        "plugin_instance": "0",
        "type": "cpu",
        "type_instance": "user",
    },
]


def errors_of(excinfo: pytest.ExceptionInfo[IngestError]) -> dict[str, list[str]]:
    return excinfo.value.errors


# ------------------------------------------------------------------------------ native


def test_native_json_parses_every_timestamp_form() -> None:
    now = 1767225630.0  # 2026-01-01T00:00:30Z
    batch = parsers.parse_json(
        native(
            [
                {"name": "cpu.usage", "value": 93.5, "labels": {"core": "0"}, "ts": now - 10},
                {"name": "mem.used", "value": 1024, "ts": "2026-01-01T00:00:00Z"},
                {"name": "load:1m", "value": 0.25, "ts": "2026-01-01T01:00:10+01:00"},
                {"name": "disk.free", "value": -1e-3},
            ],
            labels={"env": "prod"},
        ),
        now=now,
    )
    assert batch.samples == {
        "web-1": [
            Sample("cpu.usage", 93.5, now - 10, {"core": "0"}),
            Sample("mem.used", 1024.0, 1767225600.0),
            Sample("load:1m", 0.25, 1767225610.0),
            Sample("disk.free", -0.001, now),
        ]
    }
    assert batch.host_labels == {"web-1": {"env": "prod"}}
    assert batch.count == 4 and batch.skipped == 0


def test_native_json_refuses_a_number_too_large_for_a_double() -> None:
    body = b'{"host": "a", "samples": [{"name": "x", "value": 1e999}]}'
    with pytest.raises(IngestError) as excinfo:
        parsers.parse_json(body, now=NOW)
    assert errors_of(excinfo) == {"samples[0].value": ["Value must be a finite number"]}


def test_native_json_with_no_samples_still_names_the_host() -> None:
    assert parsers.parse_json(native([]), now=NOW).samples == {"web-1": []}


@pytest.mark.parametrize(
    ("sample", "field", "message"),
    [
        ({"value": 1}, "samples[0].name", "letters, digits"),
        ({"name": "a b", "value": 1}, "samples[0].name", "letters, digits"),
        ({"name": "x" * 201, "value": 1}, "samples[0].name", "1-200"),
        ({"name": "cpu", "value": "93"}, "samples[0].value", "finite number"),
        ({"name": "cpu", "value": None}, "samples[0].value", "finite number"),
        ({"name": "cpu", "value": True}, "samples[0].value", "finite number"),
        ({"name": "cpu", "value": 1, "ts": "yesterday"}, "samples[0].ts", "ISO 8601"),
        ({"name": "cpu", "value": 1, "ts": "2026-01-01T00:00:00"}, "samples[0].ts", "time zone"),
        ({"name": "cpu", "value": 1, "ts": NOW - 3 * 86400}, "samples[0].ts", "within one day"),
        ({"name": "cpu", "value": 1, "ts": NOW * 1000}, "samples[0].ts", "milliseconds"),
        ({"name": "cpu", "value": 1, "labels": ["a"]}, "samples[0].labels", "object"),
        ({"name": "cpu", "value": 1, "labels": {"9x": "a"}}, "samples[0].labels", "start with"),
        ({"name": "cpu", "value": 1, "labels": {"a": 1}}, "samples[0].labels", "must be text"),
        ({"name": "cpu", "value": 1, "labels": {"a": "v" * 501}}, "samples[0].labels", "longer"),
        ({"name": "cpu", "value": 1, "unit": "%"}, "samples[0].unit", "Unknown field"),
        ("cpu=1", "samples[0]", "object"),
    ],
)
def test_native_json_refuses_a_bad_sample_naming_its_field(
    sample: object, field: str, message: str
) -> None:
    with pytest.raises(IngestError) as excinfo:
        parsers.parse_json(native([sample]), now=NOW)
    assert excinfo.value.status == 400
    assert "nothing was stored" in excinfo.value.detail
    assert message in " ".join(errors_of(excinfo)[field]), errors_of(excinfo)


@pytest.mark.parametrize("host", ["", "web 1", "a" * 256, 7, None])
def test_native_json_needs_a_valid_host(host: object) -> None:
    with pytest.raises(IngestError) as excinfo:
        parsers.parse_json(native([{"name": "cpu", "value": 1}], host=host), now=NOW)
    assert "host" in errors_of(excinfo)


def test_every_problem_is_reported_at_once_up_to_a_cap() -> None:
    samples: list[object] = [{"name": "bad name", "value": 1}] * 50
    with pytest.raises(IngestError) as excinfo:
        parsers.parse_json(native(samples), now=NOW)
    assert len(errors_of(excinfo)) == parsers.MAX_ERRORS
    assert "50 problems (showing the first 20)" in excinfo.value.detail


def test_more_than_10000_samples_is_too_large() -> None:
    samples = [{"name": "cpu", "value": 1}] * (parsers.MAX_SAMPLES + 1)
    with pytest.raises(IngestError) as excinfo:
        parsers.parse_json(native(samples), now=NOW)
    assert excinfo.value.status == 413
    assert parsers.parse_json(native(samples[:-1]), now=NOW).count == parsers.MAX_SAMPLES


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "not valid JSON"),
        (b'{"host": "a", "samples": [{"name": "x", "value": NaN}]}', "NaN is not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"host": "a", "samples": [{"name": "x", "value": Infinity}]}', "Infinity is not"),
        (b'{"host": "a"}', "Expected a JSON object"),
        (b'"samples"', "Expected a JSON object"),
    ],
)
def test_malformed_json_is_refused_with_a_reason(body: bytes, message: str) -> None:
    with pytest.raises(IngestError, match=message):
        parsers.parse_json(body, now=NOW)


# ---------------------------------------------------------------------------- collectd


def test_collectd_names_values_and_skips_nulls() -> None:
    batch = parsers.parse_json(json.dumps(COLLECTD_BODY).encode(), now=NOW)
    rows = batch.samples["cd-probe"]
    assert [(s.name, s.value) for s in rows] == [
        ("load.load.shortterm", 0.7265625),
        ("load.load.midterm", 1.20166015625),
        ("load.load.longterm", 0.92041015625),
        ("memory.memory.used", 312238080.0),
        ("cpu.0.cpu.user", 3.5),
    ]
    assert batch.skipped == 1  # the first cpu rate
    assert rows[0].ts == pytest.approx(NOW - 2.007) and rows[0].labels == {}


def test_collectd_name_mapping_examples() -> None:
    assert parsers.collectd_name("cpu", "", "percent", "active") == "cpu.percent.active"
    assert parsers.collectd_name("interface", "eth0.100", "if_octets", "") == (
        "interface.eth0_100.if_octets"
    )
    assert parsers.collectd_name("df", "boot/efi", "df_complex", "free") == (
        "df.boot_efi.df_complex.free"
    )


def test_collectd_names_are_valid_metric_monitor_names() -> None:
    batch = parsers.parse_json(json.dumps(COLLECTD_BODY).encode(), now=NOW)
    for sample in batch.samples["cd-probe"]:
        validate_monitor_input(
            type="metric",
            target="",
            interval_seconds=60,
            timeout_seconds=10,
            config={"host": "cd-probe", "metric": sample.name, "op": "gt", "threshold": 1},
        )


def test_collectd_with_several_hosts_groups_by_host() -> None:
    other = dict(COLLECTD_BODY[1], host="db-1")
    batch = parsers.parse_json(json.dumps([COLLECTD_BODY[1], other]).encode(), now=NOW)
    assert sorted(batch.samples) == ["cd-probe", "db-1"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"values": [1, 2]}, "[0]", "same length"),
        ({"values": ["x"]}, "[0].values[0]", "number or null"),
        ({"dstypes": ["weird"]}, "[0].dsnames[0]", "Unknown data source"),
        ({"time": "now"}, "[0].time", "unix seconds"),
        ({"time": NOW + 2 * 86400}, "[0].time", "within one day"),
        ({"host": "bad host"}, "[0].host", "letters"),
        ({"plugin": ""}, "[0]", "must not be empty"),
        ({"plugin": 5}, "[0]", "must be text"),
    ],
)
def test_collectd_refuses_malformed_value_lists(
    change: dict[str, object], field: str, message: str
) -> None:
    body = [dict(COLLECTD_BODY[1], **change)]
    with pytest.raises(IngestError) as excinfo:
        parsers.parse_json(json.dumps(body).encode(), now=NOW)
    assert message in " ".join(errors_of(excinfo)[field]), errors_of(excinfo)


def test_collectd_entry_without_required_keys() -> None:
    with pytest.raises(IngestError) as excinfo:
        parsers.parse_json(b'[{"values": [1]}]', now=NOW)
    assert "Missing dstypes, dsnames, time, host, plugin, type" in errors_of(excinfo)["[0]"][0]


# -------------------------------------------------------------------------- Prometheus

# The escapes example of the exposition format documentation.
MSDOS = (
    'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",'
    'error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9'
)
PROMETHEUS_TEXT = """\
# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1 0.42
# a plain comment
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1767225600000
http_requests_total{method="post",code="400",} 3 1767225600000
MSDOS_LINE
\tspaced_out  { a = "1" }   -2.5e-3
node_temp{sensor="x"} NaN
node_temp{sensor="y"} +Inf
node_temp{sensor="z"} -Inf
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_sum 1.7560473e+07
""".replace("MSDOS_LINE", MSDOS)


def test_prometheus_text_with_escapes_timestamps_and_non_finite_values() -> None:
    now = 1767225630.0
    batch = parsers.parse_prometheus(PROMETHEUS_TEXT.encode(), now=now, host="web-1")
    rows = batch.samples["web-1"]
    assert [(s.name, s.value, s.ts, s.labels) for s in rows] == [
        ("node_load1", 0.42, now, {}),
        ("http_requests_total", 1027.0, 1767225600.0, {"method": "post", "code": "200"}),
        ("http_requests_total", 3.0, 1767225600.0, {"method": "post", "code": "400"}),
        (
            "msdos_file_access_time_seconds",
            1.458255915e9,
            now,
            {"path": "C:\\DIR\\FILE.TXT", "error": 'Cannot find file:\n"FILE.TXT"'},
        ),
        ("spaced_out", -0.0025, now, {"a": "1"}),
        ("rpc_duration_seconds", 76656.0, now, {"quantile": "0.99"}),
        ("rpc_duration_seconds_sum", 1.7560473e07, now, {}),
    ]
    assert batch.skipped == 3  # NaN, +Inf, -Inf


def test_prometheus_host_from_the_instance_label() -> None:
    text = b'up{instance="web-1:9100",job="node"} 1\nup{instance="web-2:9100",job="node"} 0\n'
    batch = parsers.parse_prometheus(text, now=NOW, host=None)
    assert {h: [(s.value, s.labels) for s in rows] for h, rows in batch.samples.items()} == {
        "web-1:9100": [(1.0, {"job": "node"})],
        "web-2:9100": [(0.0, {"job": "node"})],
    }


def test_prometheus_host_parameter_wins_and_keeps_the_instance_label() -> None:
    batch = parsers.parse_prometheus(b'up{instance="a"} 1\n', now=NOW, host="web-1")
    assert batch.samples["web-1"][0].labels == {"instance": "a"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("up", "missing value"),
        ("up one", "'one' is not a number"),
        ("up 1_000", "is not a number"),
        ("9up 1", "expected a metric name"),
        ("up{a=1} 1", "expected '\"'"),
        ('up{a="1" 1', "expected ',' or '}'"),
        ('up{a="1",a="2"} 1', "appears twice"),
        ('up{a="\\x"} 1', "invalid escape"),
        ('up{a="open} 1', "unterminated"),
        ('up{="1"} 1', "expected a label name"),
        ("up 1 1.5", "integer in milliseconds"),
        ("up 1 2 3", "unexpected text"),
        ("up-down 1", "unexpected '-'"),
        ("# TYPE up gauges", "unknown metric type"),
        ("# TYPE 9up gauge", "invalid metric"),
        ("up 1 1767225600", "looks like seconds"),
        ("up 1 0", "within one day"),
    ],
)
def test_prometheus_refuses_bad_lines_with_line_numbers(line: str, message: str) -> None:
    text = f"ok_metric 1\n{line}\n".encode()
    with pytest.raises(IngestError) as excinfo:
        parsers.parse_prometheus(text, now=1767225630.0, host="web-1")
    assert message in " ".join(errors_of(excinfo)["line 2"]), errors_of(excinfo)


def test_prometheus_second_type_line_is_an_error() -> None:
    text = b"# TYPE up gauge\n# TYPE up counter\nup 1\n"
    with pytest.raises(IngestError) as excinfo:
        parsers.parse_prometheus(text, now=NOW, host="h")
    assert "second TYPE" in errors_of(excinfo)["line 2"][0]


def test_prometheus_without_any_host_says_how_to_name_one() -> None:
    with pytest.raises(IngestError) as excinfo:
        parsers.parse_prometheus(b"up 1\n", now=NOW, host=None)
    assert "?host=" in errors_of(excinfo)["line 1"][0]


def test_prometheus_bad_host_parameter() -> None:
    with pytest.raises(IngestError) as excinfo:
        parsers.parse_prometheus(b"up 1\n", now=NOW, host="no spaces")
    assert "host" in errors_of(excinfo)


def test_prometheus_sample_limit_counts_skipped_values_too() -> None:
    text = "x NaN\n" * (parsers.MAX_SAMPLES + 1)
    with pytest.raises(IngestError) as excinfo:
        parsers.parse_prometheus(text.encode(), now=NOW, host="h")
    assert excinfo.value.status == 413


def test_prometheus_crlf_and_blank_lines_are_fine() -> None:
    batch = parsers.parse_prometheus(b"\r\n\r\nup 1\r\n\r\n", now=NOW, host="h")
    assert batch.samples["h"][0].value == 1.0


def test_non_finite_values_never_reach_storage() -> None:
    batch = parsers.parse_prometheus(b"a NaN\nb inf\nc 1\n", now=NOW, host="h")
    assert all(math.isfinite(s.value) for s in batch.samples["h"])
