"""validate_monitor_input: one error per bad field, under the field's own key, and
the normalized target and config the probes rely on."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from monitors.config import (
    JsonPathError,
    parse_json_path,
    parse_status_range,
    split_host_port,
    validate_monitor_input,
)

VALID: dict[str, dict[str, Any]] = {
    "http": {"target": "https://example.com/health"},
    "tcp": {"target": "db.example.com:5432"},
    "icmp": {"target": "example.com"},
    "dns": {"target": "example.com"},
    "push": {"target": ""},
    "metric": {"target": "", "config": {"host": "web-1", "metric": "cpu.usage", "threshold": 90}},
}


def validate(kind: str, **overrides: Any) -> tuple[str, dict[str, Any]]:
    values: dict[str, Any] = {
        "type": kind,
        "interval_seconds": 60,
        "timeout_seconds": 10,
        "config": None,
        **VALID.get(kind, {"target": "x"}),
    }
    values.update(overrides)
    return validate_monitor_input(**values)


def errors_of(kind: str, **overrides: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as exc:
        validate(kind, **overrides)
    return exc.value.message_dict


@pytest.mark.parametrize("kind", sorted(VALID))
def test_a_valid_monitor_of_each_type_passes(kind: str) -> None:
    validate(kind)


# ---------------------------------------------------------------- common fields


def test_unknown_type() -> None:
    assert "Type must be one of" in errors_of("smtp")["type"][0]


@pytest.mark.parametrize("interval", [9, 0, -60, 86401, "60", 60.5, True])
def test_interval_out_of_range(interval: Any) -> None:
    assert errors_of("http", interval_seconds=interval, timeout_seconds=5)["interval_seconds"] == [
        "Interval must be between 10 and 86400 seconds"
    ]


def test_interval_bounds_are_inclusive() -> None:
    validate("http", interval_seconds=10, timeout_seconds=9)
    validate("http", interval_seconds=86400, timeout_seconds=60)


@pytest.mark.parametrize("timeout", [0, 61, -1, "5", 2.5])
def test_timeout_out_of_range(timeout: Any) -> None:
    assert "between 1 and 60" in errors_of("http", timeout_seconds=timeout)["timeout_seconds"][0]


def test_timeout_must_be_shorter_than_the_interval() -> None:
    errors = errors_of("http", interval_seconds=10, timeout_seconds=10)
    assert errors["timeout_seconds"] == ["Timeout must be shorter than the interval"]


def test_unknown_config_keys_are_named() -> None:
    errors = errors_of("tcp", config={"send": "x", "colour": "red"})
    assert errors["config"] == ["Unknown setting: colour"]


def test_every_bad_field_is_reported_at_once() -> None:
    errors = errors_of(
        "http", target="ftp://x", interval_seconds=5, config={"method": "BREW", "keyword": 3}
    )
    assert {"target", "interval_seconds", "config.method", "config.keyword"} <= set(errors)


# ---------------------------------------------------------------- http


@pytest.mark.parametrize(
    "target",
    ["example.com", "ftp://example.com/", "https://", "http:///path", "https://exa mple.com/", ""],
)
def test_http_target_must_be_a_full_url(target: str) -> None:
    assert errors_of("http", target=target)["target"] == [
        "Enter a full URL starting with http:// or https://"
    ]


def test_http_target_port_must_be_valid() -> None:
    assert "target" in errors_of("http", target="https://example.com:99999/")


def test_http_defaults_and_normalization() -> None:
    target, config = validate("http", target="HTTPS://Example.COM:8443?q=1#frag")
    assert target == "https://example.com:8443/?q=1"
    assert config == {
        "method": "GET",
        "headers": {},
        "body": "",
        "accepted_status": ["200-299"],
        "keyword": "",
        "keyword_absent": "",
        "json_path": "",
        "json_op": "eq",
        "json_expected": None,
        "max_response_ms": None,
        "follow_redirects": True,
        "tls_expiry_days": 14,
        "verify_tls": True,
    }


def test_http_idn_host_is_punycoded_and_ipv6_kept_in_brackets() -> None:
    assert validate("http", target="https://bücher.example/")[0] == "https://xn--bcher-kva.example/"
    assert validate("http", target="http://[::1]:8080/x")[0] == "http://[::1]:8080/x"


def test_http_method_is_uppercased_and_checked() -> None:
    assert validate("http", config={"method": "post"})[1]["method"] == "POST"
    assert "config.method" in errors_of("http", config={"method": "BREW"})


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Evil": "a\r\nInjected: yes"},
        {"X-Evil\n": "a"},
        {"X-Num": 5},
        {"Bad Name": "x"},
        ["X-A: b"],
    ],
)
def test_http_headers_must_be_clean_strings(headers: Any) -> None:
    assert "config.headers" in errors_of("http", config={"headers": headers})


def test_http_accepted_status_parses_and_normalizes() -> None:
    config = validate("http", config={"accepted_status": ["200 - 299", 301, "404"]})[1]
    assert config["accepted_status"] == ["200-299", "301", "404"]
    for bad in (["2xx"], ["299-200"], ["600"], [], "abc"):
        assert "config.accepted_status" in errors_of("http", config={"accepted_status": bad})


def test_http_keyword_max_length() -> None:
    validate("http", config={"keyword": "k" * 1000})
    assert errors_of("http", config={"keyword": "k" * 1001})["config.keyword"] == [
        "At most 1000 characters"
    ]
    assert "config.keyword_absent" in errors_of("http", config={"keyword_absent": "k" * 1001})


def test_http_json_path_must_parse() -> None:
    errors = errors_of("http", config={"json_path": "data..items", "json_expected": "x"})
    assert list(errors) == ["config.json_path"]
    assert errors["config.json_path"][0].startswith("Not a valid JSON path")


def test_http_json_assertion_normalization() -> None:
    config = validate(
        "http",
        config={"json_path": "$.data.items.0.status", "json_op": "eq", "json_expected": "green"},
    )[1]
    assert config["json_path"] == "data.items[0].status"
    exists = validate("http", config={"json_path": "data", "json_op": "exists"})[1]
    assert exists["json_expected"] is None


def test_http_json_op_and_expected_are_checked() -> None:
    assert "config.json_op" in errors_of(
        "http", config={"json_path": "a", "json_op": "like", "json_expected": "x"}
    )
    assert "config.json_expected" in errors_of("http", config={"json_path": "a"})
    assert "config.json_expected" in errors_of(
        "http", config={"json_path": "a", "json_op": "gt", "json_expected": "many"}
    )
    assert "config.json_op" in errors_of("http", config={"json_op": "gt"})
    assert "config.json_expected" in errors_of("http", config={"json_expected": "x"})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("max_response_ms", 0),
        ("max_response_ms", "fast"),
        ("tls_expiry_days", -1),
        ("tls_expiry_days", 366),
        ("follow_redirects", "yes"),
        ("verify_tls", 1),
        ("body", 12),
    ],
)
def test_http_typed_settings(key: str, value: Any) -> None:
    assert f"config.{key}" in errors_of("http", config={key: value})


# ---------------------------------------------------------------- tcp / icmp


@pytest.mark.parametrize("target", ["db.example.com:0", "db.example.com:65536", "x:http"])
def test_tcp_port_must_be_in_range(target: str) -> None:
    assert errors_of("tcp", target=target)["target"] == ["Port must be between 1 and 65535"]


@pytest.mark.parametrize("target", ["db.example.com", "::1:80", ":80", "[::1]80", "bad_-.x:1"])
def test_tcp_target_must_be_host_port(target: str) -> None:
    assert "target" in errors_of("tcp", target=target)


def test_tcp_target_normalization() -> None:
    assert validate("tcp", target="DB.Example.com:5432")[0] == "db.example.com:5432"
    assert validate("tcp", target="[0:0::1]:22")[0] == "[::1]:22"
    assert split_host_port("[::1]:22") == ("::1", 22)
    assert validate("tcp")[1] == {"send": "", "expect": ""}


def test_tcp_payloads_are_limited() -> None:
    assert "config.expect" in errors_of("tcp", config={"expect": "x" * 1001})


@pytest.mark.parametrize("target", ["-bad.example.com", "a..b", "1.2.3.999", "exa mple.com"])
def test_icmp_target_must_be_a_host_or_ip(target: str) -> None:
    assert "target" in errors_of("icmp", target=target)


def test_icmp_normalization_and_defaults() -> None:
    assert validate("icmp", target="Example.COM.")[0] == "example.com"
    assert validate("icmp", target="2001:DB8::0001")[0] == "2001:db8::1"
    assert validate("icmp")[1] == {"count": 3, "max_loss_pct": 0}
    assert "config.count" in errors_of("icmp", config={"count": 0})
    assert "config.max_loss_pct" in errors_of("icmp", config={"max_loss_pct": 100})


# ---------------------------------------------------------------- dns


def test_dns_record_type() -> None:
    assert errors_of("dns", config={"record_type": "SRV"})["config.record_type"] == [
        "Record type must be one of A, AAAA, CNAME, MX, TXT, NS"
    ]
    assert validate("dns", config={"record_type": "mx"})[1]["record_type"] == "MX"


def test_dns_target_must_be_a_name() -> None:
    assert "target" in errors_of("dns", target="not a name")
    assert "target" in errors_of("dns", target="a" * 64 + ".example.com")
    assert validate("dns", target="_DMARC.Example.com.")[0] == "_dmarc.example.com"


def test_dns_resolver_and_port() -> None:
    assert "config.resolver" in errors_of("dns", config={"resolver": "dns.google"})
    assert errors_of("dns", config={"port": 0})["config.port"] == [
        "Port must be between 1 and 65535"
    ]
    config = validate("dns", config={"resolver": "2001:4860:4860::8888", "port": 5353})[1]
    assert config == {
        "record_type": "A",
        "resolver": "2001:4860:4860::8888",
        "port": 5353,
        "expected": [],
    }


def test_dns_expected_answers() -> None:
    assert validate("dns", config={"expected": ["10  mail.example.com."]})[1]["expected"] == [
        "10 mail.example.com."
    ]
    assert "config.expected" in errors_of("dns", config={"expected": [""]})
    assert "config.expected" in errors_of("dns", config={"expected": [1]})


# ---------------------------------------------------------------- push / metric


def test_push_defaults_and_empty_target() -> None:
    assert validate("push", target="ignored") == (
        "",
        {"grace_seconds": 60, "cron": "", "tz": "UTC"},
    )


def test_push_cron_tz_and_grace() -> None:
    config = validate("push", config={"cron": "*/5 * * * *", "tz": "Europe/Berlin"})[1]
    assert config["cron"] == "*/5 * * * *"
    assert config["tz"] == "Europe/Berlin"
    assert errors_of("push", config={"cron": "every five minutes"})["config.cron"] == [
        "Not a valid cron expression"
    ]
    assert errors_of("push", config={"tz": "Mars/Olympus"})["config.tz"] == ["Unknown time zone"]
    assert "config.grace_seconds" in errors_of("push", config={"grace_seconds": -1})
    assert "config.grace_seconds" in errors_of("push", config={"grace_seconds": 86401})


def test_metric_normalization() -> None:
    target, config = validate("metric")
    assert target == "web-1/cpu.usage"
    assert config == {
        "host": "web-1",
        "metric": "cpu.usage",
        "op": "gt",
        "threshold": 90,
        "for_seconds": 0,
    }


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"metric": "cpu.usage", "threshold": 1}, "config.host"),
        ({"host": "web-1", "threshold": 1}, "config.metric"),
        ({"host": "web-1", "metric": "cpu", "threshold": "high"}, "config.threshold"),
        ({"host": "web-1", "metric": "cpu", "threshold": 1, "op": "eq"}, "config.op"),
        (
            {"host": "web-1", "metric": "cpu", "threshold": 1, "for_seconds": -5},
            "config.for_seconds",
        ),
    ],
)
def test_metric_errors(config: dict[str, Any], field: str) -> None:
    assert field in errors_of("metric", config=config)


# ---------------------------------------------------------------- parsers


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("data.items[0].status", ["data", "items", 0, "status"]),
        ("$.data", ["data"]),
        ("$[0]", [0]),
        ("a.b.c", ["a", "b", "c"]),
        ("items[-1]", ["items", -1]),
        ('data["key.with.dots"]', ["data", "key.with.dots"]),
        ("data['sp ace'].x", ["data", "sp ace", "x"]),
        ("items.2.name", ["items", 2, "name"]),
    ],
)
def test_parse_json_path(path: str, parts: list[str | int]) -> None:
    assert parse_json_path(path) == parts


@pytest.mark.parametrize("path", ["", "$", ".a", "a.", "a..b", "a[", "a[x]", "a]b", "a b", "a[0]b"])
def test_parse_json_path_rejects(path: str) -> None:
    with pytest.raises(JsonPathError):
        parse_json_path(path)


def test_parse_status_range() -> None:
    assert parse_status_range("200-299") == (200, 299)
    assert parse_status_range("404") == (404, 404)
    with pytest.raises(ValueError):
        parse_status_range("20")


@pytest.mark.parametrize(
    "kind,target,config",
    [
        ("http", "https://example.test/health", {}),
        ("http", "http://example.test/", {"json_path": "a.b", "json_expected": "x"}),
        ("tcp", "127.0.0.1:80", {"send": "PING", "expect": "PONG"}),
        ("dns", "example.test", {"record_type": "MX"}),
        ("push", "", {"cron": "0 * * * *", "tz": "Europe/Paris"}),
    ],
)
def test_a_normalized_config_validates_again_unchanged(
    kind: str, target: str, config: dict[str, Any]
) -> None:
    first = validate_monitor_input(
        type=kind, target=target, interval_seconds=60, timeout_seconds=10, config=config
    )
    again = validate_monitor_input(
        type=kind, target=first[0], interval_seconds=60, timeout_seconds=10, config=first[1]
    )
    assert again == first


def test_a_time_zone_folder_name_is_a_field_error_not_a_crash() -> None:
    # zoneinfo raises IsADirectoryError (an OSError) for "America".
    assert "config.tz" in errors_of(
        "push", target="", config={"cron": "0 * * * *", "tz": "America"}
    )
