"""The probes against real local peers (HTTP(S), TCP, DNS, ICMP on loopback).

Specs are built the way production builds them: input goes through
validate_monitor_input first, so the probes see normalized config.
"""

from __future__ import annotations

import asyncio
import math
import socket
import time
import uuid
from typing import Any

import pytest

from monitors.config import validate_monitor_input
from monitors.probes import Outcome, ProbeResult, ProbeSpec, run_probes, run_probes_sync, runner
from monitors.probes.icmp import Pinger
from pulse.egress import MAX_RESPONSE_BYTES
from tests.monitors.peers import (
    NEAR_EXPIRY_DAYS,
    PRIVATE_REDIRECT,
    DnsPeer,
    TcpPeer,
    WebPeer,
)


def spec(
    kind: str,
    target: str,
    *,
    # Generous: where a timeout is not what a test is about, a busy machine must not
    # turn a slow answer into a failure.
    timeout: float = 10.0,
    degraded_ms: int | None = None,
    ca_bundle: str | None = None,
    **config: Any,
) -> ProbeSpec:
    norm_target, norm_config = validate_monitor_input(
        type=kind,
        target=target,
        interval_seconds=60,
        timeout_seconds=max(1, math.ceil(timeout)),
        config=config,
    )
    if ca_bundle:
        norm_config["ca_bundle"] = ca_bundle  # trusted-side setting, not tenant input
    return ProbeSpec(uuid.uuid4(), kind, norm_target, timeout, norm_config, degraded_ms)


def probe(kind: str, target: str, **kwargs: Any) -> ProbeResult:
    allow = kwargs.pop("allow_cidrs", None)
    [result] = run_probes_sync([spec(kind, target, **kwargs)], allow_cidrs=allow)
    return result


def assert_fail(result: ProbeResult, error: str) -> None:
    assert result.outcome is Outcome.FAIL, result
    assert result.error == error


# ---------------------------------------------------------------- http


def test_http_ok_with_keyword(web: WebPeer) -> None:
    result = probe("http", web.url("/ok"), keyword="Welcome")
    assert result.outcome is Outcome.OK, result
    assert result.status_code == 200
    assert result.error == ""
    assert result.latency_ms is not None and result.latency_ms > 0
    assert result.details["response_bytes"] == len("Welcome to Pulse")
    assert result.details["address"] == "127.0.0.1"


def test_http_500_fails_unless_accepted(web: WebPeer) -> None:
    result = probe("http", web.url("/fail"))
    assert_fail(result, "status 500 not in accepted 200-299")
    assert result.status_code == 500
    assert probe("http", web.url("/fail"), accepted_status=["200-299", "500"]).outcome is Outcome.OK


def test_http_missing_keyword(web: WebPeer) -> None:
    assert_fail(probe("http", web.url("/ok"), keyword="Goodbye"), "keyword 'Goodbye' not found")


def test_http_keyword_that_must_be_absent(web: WebPeer) -> None:
    assert_fail(
        probe("http", web.url("/ok"), keyword_absent="Welcome"),
        "keyword 'Welcome' found but must be absent",
    )
    assert probe("http", web.url("/ok"), keyword_absent="Error").outcome is Outcome.OK


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ({"json_path": "data.items[0].status", "json_expected": "green"}, ""),
        ({"json_path": "data.items[0].count", "json_op": "ge", "json_expected": 3}, ""),
        ({"json_path": "data.items[0].count", "json_op": "lt", "json_expected": "10"}, ""),
        ({"json_path": "data.items", "json_op": "exists"}, ""),
        ({"json_path": "data.items[0].status", "json_op": "contains", "json_expected": "ree"}, ""),
        (
            {"json_path": "data.items[0].status", "json_expected": "red"},
            'JSON data.items[0].status is "green", expected eq "red"',
        ),
        (
            {"json_path": "data.items[0].count", "json_op": "gt", "json_expected": 3},
            "JSON data.items[0].count is 3, expected gt 3",
        ),
        (
            {"json_path": "data.items[0].status", "json_op": "ne", "json_expected": "green"},
            'JSON data.items[0].status is "green", expected ne "green"',
        ),
        ({"json_path": "data.missing", "json_op": "exists"}, "JSON path data.missing not found"),
        (
            {"json_path": "data.items[1].status", "json_expected": "green"},
            "JSON path data.items[1].status not found",
        ),
    ],
)
def test_http_json_path(web: WebPeer, config: dict[str, Any], error: str) -> None:
    result = probe("http", web.url("/json"), **config)
    assert result.error == error
    assert result.outcome is (Outcome.FAIL if error else Outcome.OK)


def test_http_json_on_a_non_json_body(web: WebPeer) -> None:
    result = probe("http", web.url("/ok"), json_path="data", json_op="exists")
    assert_fail(result, "response is not valid JSON")


def test_http_method_headers_and_body_are_sent(web: WebPeer) -> None:
    result = probe(
        "http",
        web.url("/echo"),
        method="POST",
        headers={"X-Pulse-Test": "yes"},
        body="ping",
        json_path="headers.x-pulse-test",
        json_expected="yes",
    )
    assert result.outcome is Outcome.OK, result
    for path, expected in (("method", "POST"), ("body", "ping")):
        echoed = probe(
            "http",
            web.url("/echo"),
            method="POST",
            body="ping",
            json_path=path,
            json_expected=expected,
        )
        assert echoed.outcome is Outcome.OK, echoed


def test_http_slower_than_max_response_ms_fails(web: WebPeer) -> None:
    result = probe("http", web.url("/slow?ms=300"), max_response_ms=100)
    assert result.outcome is Outcome.FAIL
    assert result.error.startswith("response took ")
    assert result.error.endswith("ms, over the 100 ms limit")
    assert result.latency_ms is not None and result.latency_ms >= 300


def test_http_slower_than_latency_degraded_is_slow(web: WebPeer) -> None:
    result = probe("http", web.url("/slow?ms=200"), degraded_ms=50)
    assert result.outcome is Outcome.SLOW, result
    assert "above 50 ms" in result.error
    assert probe("http", web.url("/slow?ms=1"), degraded_ms=5000).outcome is Outcome.OK


def test_http_timeout(web: WebPeer) -> None:
    started = time.monotonic()
    result = probe("http", web.url("/slow?ms=60000"), timeout=0.5)
    assert_fail(result, "timed out after 0.5 s")
    # Cut off, not answered: the target takes a minute (a bound far from both).
    assert time.monotonic() - started < 30


def test_http_connection_refused(web: WebPeer, tcp: TcpPeer) -> None:
    result = probe("http", f"http://127.0.0.1:{tcp.closed_port}/")
    assert_fail(result, "connection refused")


def test_http_redirect_is_followed(web: WebPeer) -> None:
    result = probe("http", web.url("/redirect"), keyword="Welcome")
    assert result.outcome is Outcome.OK, result
    assert result.status_code == 200
    assert result.details["final_url"] == web.url("/ok")
    assert result.details["redirects"] == 1


def test_http_redirect_not_followed_when_disabled(web: WebPeer) -> None:
    result = probe("http", web.url("/redirect"), follow_redirects=False)
    assert_fail(result, "status 302 not in accepted 200-299")
    assert "final_url" not in result.details


def test_http_redirect_to_a_private_address_is_refused_before_connecting(web: WebPeer) -> None:
    result = probe("http", web.url("/redirect-private"), allow_cidrs=["127.0.0.1/32"])
    # A connect attempt to 127.0.0.2:9 would fail with another text ("connection refused").
    assert_fail(
        result,
        f"redirect to {PRIVATE_REDIRECT} refused: destination 127.0.0.2 is not a public address",
    )


def test_http_redirect_loop_stops_after_five(web: WebPeer) -> None:
    before = web.hits["/redirect-loop"]
    assert_fail(probe("http", web.url("/redirect-loop")), "too many redirects (more than 5)")
    assert web.hits["/redirect-loop"] - before == 6


def test_http_body_is_capped(web: WebPeer) -> None:
    result = probe("http", web.url("/big"), keyword="x")
    assert result.outcome is Outcome.OK, result
    assert result.details["response_bytes"] == MAX_RESPONSE_BYTES
    assert result.details["truncated"] is True


def test_http_target_itself_passes_the_egress_guard(web: WebPeer) -> None:
    literal = probe("http", web.url("/ok"), allow_cidrs=[])
    assert_fail(literal, "destination 127.0.0.1 is not a public address")
    by_name = probe("http", f"http://localhost:{web.port}/ok", allow_cidrs=[])
    assert by_name.outcome is Outcome.FAIL
    assert by_name.error.endswith("is not a public address")
    assert probe("http", f"http://localhost:{web.port}/ok").outcome is Outcome.OK


# ---------------------------------------------------------------- https


def test_https_certificate_near_expiry_is_slow(web: WebPeer) -> None:
    result = probe("http", web.https_url("/ok"), ca_bundle=web.ca_path, tls_expiry_days=14)
    assert result.outcome is Outcome.SLOW, result
    assert result.error == f"certificate expires in {NEAR_EXPIRY_DAYS} days"
    assert result.details["tls_days_left"] == NEAR_EXPIRY_DAYS
    assert result.status_code == 200


def test_https_certificate_outside_the_warning_window_is_ok(web: WebPeer) -> None:
    result = probe(
        "http", web.https_url("/ok", host="localhost"), ca_bundle=web.ca_path, tls_expiry_days=3
    )
    assert result.outcome is Outcome.OK, result
    assert result.details["tls_days_left"] == NEAR_EXPIRY_DAYS


def test_https_expired_certificate_fails(web: WebPeer) -> None:
    result = probe("http", web.expired_https_url("/ok"), ca_bundle=web.ca_path)
    assert_fail(result, "TLS certificate invalid: certificate has expired")


def test_https_untrusted_certificate_fails_unless_verification_is_off(web: WebPeer) -> None:
    result = probe("http", web.https_url("/ok"))
    assert result.outcome is Outcome.FAIL
    assert result.error.startswith("TLS certificate invalid: ")
    unverified = probe("http", web.https_url("/ok"), verify_tls=False)
    assert unverified.outcome is Outcome.OK, unverified
    assert unverified.details["tls_days_left"] == NEAR_EXPIRY_DAYS


# ---------------------------------------------------------------- tcp


def test_tcp_ok(tcp: TcpPeer) -> None:
    result = probe("tcp", tcp.target())
    assert result.outcome is Outcome.OK, result
    assert result.details["address"] == "127.0.0.1"
    assert result.latency_ms is not None


def test_tcp_expect_greeting_and_echo(tcp: TcpPeer) -> None:
    assert probe("tcp", tcp.target(), expect="HELLO").outcome is Outcome.OK
    assert probe("tcp", tcp.target(), send="PING\n", expect="PING").outcome is Outcome.OK


def test_tcp_expect_mismatch(tcp: TcpPeer) -> None:
    # The greeting must arrive before the timeout for the text to quote it: 2 s leaves
    # the peer's thread room on a busy machine.
    result = probe("tcp", tcp.target(), expect="PONG", timeout=2.0)
    assert_fail(result, "expected 'PONG' not received within 2.0 s (got 'HELLO\\n')")


def test_tcp_connection_refused(tcp: TcpPeer) -> None:
    assert_fail(probe("tcp", tcp.target("closed_port")), "connection refused")


def test_tcp_peer_that_never_answers_times_out(tcp: TcpPeer) -> None:
    result = probe("tcp", tcp.target("silent_port"), expect="HELLO", timeout=0.5)
    assert_fail(result, "timed out after 0.5 s waiting for 'HELLO'")


def test_tcp_egress_guard(tcp: TcpPeer) -> None:
    result = probe("tcp", tcp.target(), allow_cidrs=[])
    assert_fail(result, "destination 127.0.0.1 is not a public address")


# ---------------------------------------------------------------- icmp


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        pytest.param(
            "::1",
            marks=pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback"),
        ),
    ],
)
def test_icmp_ok(address: str) -> None:
    result = probe("icmp", address, count=3)
    assert result.outcome is Outcome.OK, result
    details = result.details
    assert (details["sent"], details["received"], details["loss_pct"]) == (3, 3, 0)
    assert details["address"] == address
    assert 0 <= details["rtt_min_ms"] <= details["rtt_avg_ms"] <= details["rtt_max_ms"]
    assert result.latency_ms == pytest.approx(details["rtt_avg_ms"], abs=0.01)


def test_icmp_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback never drops, so every other echo is swallowed on our side: the real
    socket still carries the rest."""
    real_ping = Pinger.ping
    calls = {"n": 0}

    async def lossy(self: Pinger, address: str, deadline: float) -> float | None:
        calls["n"] += 1
        if calls["n"] % 2 == 0 or drop_all:
            return None
        return await real_ping(self, address, deadline)

    monkeypatch.setattr(Pinger, "ping", lossy)
    drop_all = False
    partial = probe("icmp", "127.0.0.1", count=3)
    assert partial.outcome is Outcome.SLOW, partial
    assert partial.error == "33.3% packet loss (2 of 3 replies)"
    assert partial.details["received"] == 2
    calls["n"] = 0
    assert probe("icmp", "127.0.0.1", count=3, max_loss_pct=50).outcome is Outcome.OK
    drop_all = True
    assert_fail(probe("icmp", "127.0.0.1", count=3), "100% packet loss (0 of 3 replies)")


def test_icmp_egress_guard() -> None:
    assert_fail(
        probe("icmp", "127.0.0.1", allow_cidrs=[]), "destination 127.0.0.1 is not a public address"
    )


# ---------------------------------------------------------------- dns


@pytest.mark.parametrize(
    ("name", "record_type", "expected", "answers"),
    [
        ("ok.pulse.test", "A", ["127.0.0.1"], ["127.0.0.1"]),
        ("ok.pulse.test", "AAAA", ["0:0::1"], ["::1"]),
        ("www.pulse.test", "CNAME", ["OK.pulse.test."], ["ok.pulse.test"]),
        ("www.pulse.test", "A", ["127.0.0.1"], ["127.0.0.1"]),  # through the CNAME
        ("ok.pulse.test", "MX", ["10 mail.pulse.test."], ["10 mail.pulse.test"]),
        ("ok.pulse.test", "TXT", ['"v=pulse"'], ["v=pulse"]),
        ("ok.pulse.test", "NS", ["ns1.pulse.test"], ["ns1.pulse.test"]),
    ],
)
def test_dns_record_types(
    dns: DnsPeer, name: str, record_type: str, expected: list[str], answers: list[str]
) -> None:
    result = probe(
        "dns",
        name,
        record_type=record_type,
        resolver="127.0.0.1",
        port=dns.port,
        expected=expected,
    )
    assert result.outcome is Outcome.OK, result
    assert result.details["answers"] == answers


def test_dns_nxdomain(dns: DnsPeer) -> None:
    result = probe("dns", "nope.pulse.test", resolver="127.0.0.1", port=dns.port)
    assert_fail(result, "NXDOMAIN: no such name nope.pulse.test")


def test_dns_no_answer_for_the_type(dns: DnsPeer) -> None:
    result = probe("dns", "ok.pulse.test", record_type="CNAME", resolver="127.0.0.1", port=dns.port)
    assert_fail(result, "no answer for CNAME")


def test_dns_expected_mismatch(dns: DnsPeer) -> None:
    result = probe(
        "dns", "ok.pulse.test", resolver="127.0.0.1", port=dns.port, expected=["10.1.2.3"]
    )
    assert_fail(result, "expected '10.1.2.3' not in answers [127.0.0.1]")


def test_dns_resolver_timeout(dns: DnsPeer) -> None:
    result = probe("dns", "ok.pulse.test", resolver="127.0.0.1", port=dns.silent_port, timeout=0.5)
    # The probe's own text: the runner's backstop (0.5 s + 1 s) would say less.
    assert_fail(result, f"timed out after 0.5 s waiting for 127.0.0.1:{dns.silent_port}")


def test_dns_resolver_must_pass_the_egress_guard() -> None:
    result = probe("dns", "ok.pulse.test", resolver="127.0.0.2", allow_cidrs=["127.0.0.1/32"])
    assert_fail(result, "resolver refused: destination 127.0.0.2 is not a public address")


# ---------------------------------------------------------------- runner


def test_run_probes_runs_a_mixed_batch_concurrently_in_order(
    web: WebPeer, tcp: TcpPeer, dns: DnsPeer
) -> None:
    # /together?n=5 answers only while five such requests are in flight at once (else
    # 504 after 30 s, past the probes' timeout): the 25 of them prove concurrency
    # without timing anything.
    timeout = 20.0
    kinds = [
        (spec("http", web.url("/ok")), Outcome.OK),
        (spec("http", web.url("/fail")), Outcome.FAIL),
        (spec("http", web.url("/together?n=5"), timeout=timeout), Outcome.OK),
        (spec("tcp", tcp.target()), Outcome.OK),
        (spec("tcp", tcp.target("closed_port")), Outcome.FAIL),
        (spec("dns", "ok.pulse.test", resolver="127.0.0.1", port=dns.port), Outcome.OK),
        (spec("dns", "no.pulse.test", resolver="127.0.0.1", port=dns.port), Outcome.FAIL),
        (spec("icmp", "127.0.0.1", count=1), Outcome.OK),
    ]
    batch = [kinds[i % len(kinds)] for i in range(200)]
    results = run_probes_sync([s for s, _ in batch], concurrency=100)
    assert len(results) == 200
    assert [r.outcome for r in results] == [expected for _, expected in batch], [
        r.error for r in results if r.error
    ][:5]
    assert [r.status_code for r in results[:3]] == [200, 500, 200]


def test_a_probe_that_raises_becomes_a_fail_result(
    monkeypatch: pytest.MonkeyPatch, tcp: TcpPeer
) -> None:
    async def broken(spec: ProbeSpec, ctx: Any) -> ProbeResult:
        raise RuntimeError("boom")

    monkeypatch.setitem(runner.PROBES, "dns", broken)
    results = run_probes_sync(
        [
            spec("tcp", tcp.target()),
            spec("dns", "ok.pulse.test"),
            ProbeSpec(uuid.uuid4(), "smtp", "x", 1.0, {}),
            ProbeSpec(uuid.uuid4(), "push", "", 1.0, {}),
        ]
    )
    assert [r.outcome for r in results] == [Outcome.OK, Outcome.FAIL, Outcome.FAIL, Outcome.FAIL]
    assert results[1].error == "probe error: RuntimeError: boom"
    assert results[2].error == "unknown monitor type 'smtp'"
    assert "not probed" in results[3].error


def test_a_probe_that_overruns_its_deadline_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    async def stuck(spec: ProbeSpec, ctx: Any) -> ProbeResult:
        await asyncio.sleep(60)
        raise AssertionError("not reached")

    monkeypatch.setitem(runner.PROBES, "tcp", stuck)
    monkeypatch.setattr(runner, "BACKSTOP_MARGIN", 0.1)
    started = time.monotonic()
    [result] = run_probes_sync([ProbeSpec(uuid.uuid4(), "tcp", "x:1", 0.2, {})])
    assert_fail(result, "timed out after 0.2 s")
    # Cut off by the backstop, not finished: the probe sleeps a minute.
    assert time.monotonic() - started < 30


def test_start_at_holds_each_probe_until_its_time(tcp: TcpPeer) -> None:
    started = time.monotonic()  # before ``now``: elapsed then covers the whole hold
    now = time.time()
    late, due = run_probes_sync(
        [spec("tcp", tcp.target()), spec("tcp", tcp.target())], start_at=[now - 5, now + 0.4]
    )
    elapsed = time.monotonic() - started
    assert late.outcome is due.outcome is Outcome.OK
    # Held until its time (10 ms for uvloop's millisecond timers), and not for the
    # 60 s a start time taken for milliseconds would mean.
    assert 0.39 <= elapsed < 30
    # The wait is not latency: the probe started 0.4 s in, so its latency fits in what
    # was left; counted from the start, it would exceed that.
    assert due.latency_ms is not None and due.latency_ms < (elapsed - 0.39) * 1000
    with pytest.raises(ValueError):
        run_probes_sync([spec("tcp", tcp.target())], start_at=[])


def test_run_probes_is_awaitable_and_handles_an_empty_batch() -> None:
    assert asyncio.run(run_probes([])) == []
