"""The egress guard (SPEC §7): which addresses are refused, how wrapped IPv4
addresses are unwrapped, and that a name is resolved once and judged as a whole."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulse import egress
from pulse.egress import (
    DEFAULT_TIMEOUT,
    MAX_RESPONSE_BYTES,
    EgressDenied,
    GuardedResolver,
    check_address,
    guarded_addresses_sync,
    is_public_address,
    require_https,
    resolve_checked,
)
from tests.monitors.peers import WELCOME, WebPeer

LOOPBACK = ["127.0.0.0/8", "::1/128"]


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def teredo(server: str, client: str) -> ipaddress.IPv6Address:
    """RFC 4380 layout: prefix, server v4, flags, obscured port, obscured client v4."""
    value = (
        (0x20010000 << 96)
        | (int(ipaddress.IPv4Address(server)) << 64)
        | (0x8000 << 48)
        | (0xEDCB << 32)
        | (int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF)
    )
    return ipaddress.IPv6Address(value)


REFUSED = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.5",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "100.64.0.1",  # CGNAT
    "100.127.255.254",
    "169.254.169.254",  # cloud metadata
    "169.254.1.1",
    "0.0.0.0",  # noqa: S104 - a destination here, not a bind address
    "0.1.2.3",
    "255.255.255.255",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "198.18.0.1",  # benchmarking
    "198.19.255.255",
    "192.0.0.8",
    "192.0.2.1",  # documentation
    "198.51.100.7",
    "203.0.113.9",
    "::",
    "::1",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "fd00:ec2::254",  # AWS metadata over IPv6
    "fec0::1",  # site-local
    "ff02::1",
    "2001:db8::1",
    "100::1",
    # IPv4 wrapped in IPv6
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible
    "::10.0.0.1",
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2002:a00:1::",  # 6to4 of 10.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::7f00:1",
    "64:ff9b:1::a00:1",  # local-use NAT64 of 10.0.0.1
    "64:ff9b:1:1::1",  # local-use NAT64, layout unknown: refused, not guessed
    str(teredo("65.54.227.120", "10.0.0.1")),  # Teredo, private client
    str(teredo("10.0.0.1", "8.8.8.8")),  # Teredo, private server
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "100.63.255.255",  # just below CGNAT
    "100.128.0.0",  # just above CGNAT
    "172.32.0.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:81c::200e",
    "::ffff:8.8.8.8",
    "2002:808:808::1",
    "64:ff9b::808:808",
    "64:ff9b:1::808:808",
    str(teredo("65.54.227.120", "8.8.8.8")),
]


@pytest.mark.parametrize("address", REFUSED)
def test_it_refuses_non_public_addresses(address: str) -> None:
    assert is_public_address(ip(address)) is False
    with pytest.raises(EgressDenied, match="is not a public address"):
        check_address(ip(address), allow_cidrs=[])


@pytest.mark.parametrize("address", PUBLIC)
def test_it_allows_public_addresses(address: str) -> None:
    assert is_public_address(ip(address)) is True
    check_address(ip(address), allow_cidrs=[])


def test_the_message_names_the_destination() -> None:
    with pytest.raises(EgressDenied) as exc:
        check_address(ip("10.0.0.5"), allow_cidrs=[])
    assert str(exc.value) == "destination 10.0.0.5 is not a public address"


def test_the_allow_list_admits_loopback_but_still_refuses_private() -> None:
    check_address(ip("127.0.0.1"), allow_cidrs=LOOPBACK)
    check_address(ip("::1"), allow_cidrs=LOOPBACK)
    check_address(ip("::ffff:127.0.0.1"), allow_cidrs=LOOPBACK)  # same destination
    for refused in ("10.0.0.1", "169.254.169.254", "::ffff:10.0.0.1", "fe80::1"):
        with pytest.raises(EgressDenied):
            check_address(ip(refused), allow_cidrs=LOOPBACK)


def test_a_bad_allow_list_entry_fails_loudly() -> None:
    with pytest.raises(ValueError):
        GuardedResolver(["not-a-cidr"])


# ---------------------------------------------------------------- properties

WRAPPINGS: dict[str, Callable[[ipaddress.IPv4Address], ipaddress.IPv6Address]] = {
    "mapped": lambda v: ipaddress.IPv6Address(f"::ffff:{v}"),
    "compatible": lambda v: ipaddress.IPv6Address(int(v)),
    "6to4": lambda v: ipaddress.IPv6Address((0x2002 << 112) | (int(v) << 80)),
    "nat64": lambda v: ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(v)),
    "nat64-local": lambda v: ipaddress.IPv6Address(
        int(ipaddress.IPv6Address("64:ff9b:1::")) | int(v)
    ),
}


def _refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:
        check_address(address, allow_cidrs=[])
    except EgressDenied:
        return True
    return False


@pytest.mark.parametrize("wrapping", sorted(WRAPPINGS))
@given(v4=st.ip_addresses(v=4))
def test_every_wrapping_is_refused_iff_the_ipv4_address_is(
    wrapping: str, v4: ipaddress.IPv4Address
) -> None:
    wrapped = WRAPPINGS[wrapping](v4)
    assert _refused(wrapped) == _refused(v4), f"{wrapping}: {wrapped} vs {v4}"


@given(server=st.ip_addresses(v=4), client=st.ip_addresses(v=4))
def test_teredo_is_refused_unless_both_ends_are_public(
    server: ipaddress.IPv4Address, client: ipaddress.IPv4Address
) -> None:
    assert _refused(teredo(str(server), str(client))) == (_refused(server) or _refused(client))


@given(v6=st.ip_addresses(v=6))
def test_any_ipv6_address_is_judged_without_crashing(v6: ipaddress.IPv6Address) -> None:
    # Site-local, ULA, link-local and multicast can never pass, whatever the bits.
    verdict = is_public_address(v6)
    if v6 in ipaddress.IPv6Network("fc00::/7") or v6 in ipaddress.IPv6Network("fe80::/10"):
        assert verdict is False
    if v6.is_multicast:
        assert verdict is False


# ---------------------------------------------------------------- resolution


class FakeGetaddrinfo:
    """Stands in for the event loop's resolver: answers from a script, one list of
    addresses per call, so rebinding can be simulated without any DNS server."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls: list[str] = []

    def infos(self, addresses: list[str], port: int) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for address in addresses:
            if ":" in address:
                out.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                out.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return out

    async def __call__(self, host: str, port: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        self.calls.append(host)
        answer = self.answers[min(len(self.calls), len(self.answers)) - 1]
        return self.infos(answer, int(port or 0))


def use_fake_resolver(fake: FakeGetaddrinfo) -> None:
    """Replace getaddrinfo on the running loop only (asyncio.run makes a fresh one)."""
    setattr(asyncio.get_running_loop(), "getaddrinfo", fake)  # noqa: B010


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_resolve_checked_checks_literals_without_a_lookup() -> None:
    assert run(resolve_checked("127.0.0.1", 80, allow_cidrs=LOOPBACK)) == [
        (socket.AF_INET, "127.0.0.1")
    ]
    assert run(resolve_checked("[::1]", 80, allow_cidrs=LOOPBACK)) == [(socket.AF_INET6, "::1")]
    with pytest.raises(EgressDenied, match=re.escape("10.0.0.1")):
        run(resolve_checked("10.0.0.1", 80, allow_cidrs=LOOPBACK))


def test_resolve_checked_resolves_a_real_name() -> None:
    assert (socket.AF_INET, "127.0.0.1") in run(
        resolve_checked("localhost", 80, allow_cidrs=LOOPBACK)
    )
    with pytest.raises(EgressDenied, match=re.escape("127.0.0.1 is not a public address")):
        run(resolve_checked("localhost", 80, allow_cidrs=[]))


def test_a_name_with_one_private_address_is_refused_as_a_whole() -> None:
    fake = FakeGetaddrinfo(["93.184.216.34", "10.0.0.1"])

    async def go() -> list[tuple[int, str]]:
        use_fake_resolver(fake)
        return await resolve_checked("mixed.pulse.test", 443, allow_cidrs=[])

    with pytest.raises(
        EgressDenied, match=re.escape("destination 10.0.0.1 is not a public address")
    ):
        run(go())
    assert fake.calls == ["mixed.pulse.test"]


def test_a_public_name_resolves_to_its_checked_addresses() -> None:
    fake = FakeGetaddrinfo(["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])

    async def go() -> list[tuple[int, str]]:
        use_fake_resolver(fake)
        return await resolve_checked("example.test", 443, allow_cidrs=[])

    assert run(go()) == [
        (socket.AF_INET, "93.184.216.34"),
        (socket.AF_INET6, "2606:2800:220:1:248:1893:25c8:1946"),
    ]


def test_the_guarded_resolver_keeps_the_name_and_pins_the_address() -> None:
    fake = FakeGetaddrinfo(["127.0.0.1"])

    async def go() -> list[Any]:
        use_fake_resolver(fake)
        return await GuardedResolver(LOOPBACK).resolve("app.pulse.test", 8443)

    [record] = run(go())
    assert record["hostname"] == "app.pulse.test"  # SNI and Host use the name
    assert record["host"] == "127.0.0.1"  # the connection uses the checked address
    assert record["port"] == 8443
    assert record["family"] == socket.AF_INET


def test_the_guarded_resolver_reads_the_allow_list_from_settings(settings: Any) -> None:
    settings.EGRESS_ALLOW_CIDRS = ["10.0.0.0/8"]
    resolver = GuardedResolver()
    assert resolver.allow_cidrs == ("10.0.0.0/8",)
    [record] = run(resolver.resolve("10.1.2.3", 80))
    assert record["host"] == "10.1.2.3"
    with pytest.raises(EgressDenied):
        run(resolver.resolve("127.0.0.1", 80))


@pytest.fixture(scope="module")
def web() -> Iterator[WebPeer]:
    with WebPeer() as peer:
        yield peer


def test_dns_rebinding_cannot_move_a_connection_to_a_private_address(web: WebPeer) -> None:
    """The name answers "allowed" first and a private address on every later
    lookup. With the DNS cache the connection keeps the checked address; without
    it, each new lookup is checked again and refused - never connected."""
    url = f"http://rebind.pulse.test:{web.port}/ok"

    async def fetch_twice(use_dns_cache: bool) -> tuple[list[str], FakeGetaddrinfo]:
        fake = FakeGetaddrinfo(["127.0.0.1"], ["10.0.0.1"])
        use_fake_resolver(fake)
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(LOOPBACK),
            use_dns_cache=use_dns_cache,
            ttl_dns_cache=None,
            force_close=True,  # a new connection, and so a new lookup, per request
        )
        outcomes: list[str] = []
        async with aiohttp.ClientSession(connector=connector) as session:
            for _ in range(2):
                try:
                    async with session.get(url) as resp:
                        outcomes.append(await resp.text())
                except EgressDenied as exc:
                    outcomes.append(str(exc))
        return outcomes, fake

    outcomes, fake = run(fetch_twice(use_dns_cache=True))
    assert outcomes == [WELCOME, WELCOME]
    assert fake.calls == ["rebind.pulse.test"]  # resolved once

    outcomes, fake = run(fetch_twice(use_dns_cache=False))
    assert outcomes == [WELCOME, "destination 10.0.0.1 is not a public address"]
    assert len(fake.calls) == 2


def test_guarded_addresses_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    assert guarded_addresses_sync("127.0.0.1", 443, LOOPBACK) == ["127.0.0.1"]
    with pytest.raises(EgressDenied):
        guarded_addresses_sync("10.0.0.1", 443, LOOPBACK)

    fake = FakeGetaddrinfo(["93.184.216.34", "192.168.0.10"])
    monkeypatch.setattr(
        egress.socket, "getaddrinfo", lambda host, port, **kw: fake.infos(fake.answers[0], port)
    )
    with pytest.raises(EgressDenied, match=re.escape("192.168.0.10")):
        guarded_addresses_sync("hooks.pulse.test", 443, [])


def test_require_https_only_in_production() -> None:
    require_https("https://hooks.example.com/x", production=True)
    require_https("http://hooks.example.com/x", production=False)
    with pytest.raises(EgressDenied, match=r"only https:// URLs are allowed"):
        require_https("http://hooks.example.com/x", production=True)
    with pytest.raises(EgressDenied):
        require_https("ftp://hooks.example.com/x", production=False)


def test_caps() -> None:
    assert MAX_RESPONSE_BYTES == 1024 * 1024
    assert DEFAULT_TIMEOUT == 10
