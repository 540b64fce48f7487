"""The egress guard (SPEC §7): every outbound connection to a tenant-supplied
destination (probes, webhooks, Slack, Teams) must land on a globally routable
address, unless an operator-set allow-list (``EGRESS_ALLOW_CIDRS``) admits it.

Names are resolved once and every address is checked; the connection then goes to
the checked address (aiohttp: :class:`GuardedResolver`; ``requests``: pin the
result of :func:`guarded_addresses_sync`). Resolving twice would let a DNS
rebinding attacker answer with a public address for the check and a private one
for the connect.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_RESPONSE_BYTES = 1024 * 1024
DEFAULT_TIMEOUT = 10


class EgressDenied(Exception):
    """The destination is not allowed; the message is safe to show to the tenant."""


# Explicit refusals on top of ``is_global``: Python's special-purpose tables have
# changed between patch releases (3.12.4 rewrote them), so the guard does not rely
# on them alone.
_REFUSED_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, incl. cloud metadata 169.254.169.254
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # TEST-NET-1
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # TEST-NET-2
        "203.0.113.0/24",  # TEST-NET-3
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, incl. broadcast
    )
)
_REFUSED_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/128",
        "::1/128",
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (Teredo is unwrapped before this)
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # SRv6 SIDs
        "fc00::/7",  # ULA, incl. AWS metadata fd00:ec2::254
        "fe80::/10",  # link-local
        "fec0::/10",  # deprecated site-local
        "ff00::/8",  # multicast
    )
)
_METADATA = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))

_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_SIXTOFOUR = ipaddress.IPv6Network("2002::/16")
_NAT64_WKP = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_TEREDO = ipaddress.IPv6Network("2001::/32")


class _Unwrappable(Exception):
    """An address inside a translation prefix whose embedding we cannot know."""


def _embedded_v4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses a packet to ``ip`` would really reach, or None when ``ip``
    is not a translation/tunnel form."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in _IPV4_COMPATIBLE:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip in _NAT64_WKP:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip in _NAT64_LOCAL:
        # RFC 8215 local-use prefix: the operator picks the prefix length, so only
        # the /96 layout (bits 48..95 zero) is unambiguous. Anything else is refused
        # rather than guessed at.
        if (int(ip) >> 32) & ((1 << 48) - 1):
            raise _Unwrappable
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip in _TEREDO and ip.teredo is not None:
        server, client = ip.teredo
        return [server, client]
    return None


def _plain_is_public(ip: IPAddress) -> bool:
    if ip in _METADATA:
        return False
    refused: Iterable[IPNetwork] = _REFUSED_V4 if ip.version == 4 else _REFUSED_V6
    if any(ip in net for net in refused):
        return False
    return ip.is_global and not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _strip_scope(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        return ipaddress.IPv6Address(int(ip))
    return ip


def is_public_address(ip: IPAddress) -> bool:
    """True when ``ip``, after unwrapping IPv4-in-IPv6 forms, is globally routable
    and none of loopback, private, link-local, CGNAT, multicast, reserved,
    documentation, benchmarking or cloud metadata."""
    ip = _strip_scope(ip)
    if isinstance(ip, ipaddress.IPv6Address):
        try:
            embedded = _embedded_v4(ip)
        except _Unwrappable:
            return False
        if embedded is not None:
            return all(_plain_is_public(v4) for v4 in embedded)
    return _plain_is_public(ip)


@lru_cache(maxsize=64)
def parse_allow_cidrs(allow_cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in allow_cidrs if c.strip())


def _allowed_by_list(ip: IPAddress, nets: Sequence[IPNetwork]) -> bool:
    return any(ip.version == net.version and ip in net for net in nets)


def check_address(ip: IPAddress, *, allow_cidrs: Sequence[str]) -> None:
    """Raise :class:`EgressDenied` unless ``ip`` is public or inside ``allow_cidrs``."""
    plain = _strip_scope(ip)
    nets = parse_allow_cidrs(tuple(allow_cidrs))
    if is_public_address(plain) or _allowed_by_list(plain, nets):
        return
    # The allow-list speaks about real destinations, so ::ffff:127.0.0.1 is admitted
    # by 127.0.0.0/8 exactly like 127.0.0.1 is.
    if isinstance(plain, ipaddress.IPv6Address) and nets:
        try:
            embedded = _embedded_v4(plain)
        except _Unwrappable:
            embedded = None
        if embedded and all(_plain_is_public(v4) or _allowed_by_list(v4, nets) for v4 in embedded):
            return
    raise EgressDenied(f"destination {ip} is not a public address")


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _check_infos(
    host: str, infos: Iterable[tuple[Any, ...]], allow_cidrs: Sequence[str]
) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        addr = str(sockaddr[0])
        ip = ipaddress.ip_address(addr)
        # One refused address refuses the name: picking the good ones would let a
        # name list an internal address that a later connect or retry could use.
        check_address(ip, allow_cidrs=allow_cidrs)
        item = (int(family), addr)
        if item not in out:
            out.append(item)
    if not out:
        raise EgressDenied(f"{host} has no IPv4 or IPv6 address")
    return out


def _literal_result(ip: IPAddress, allow_cidrs: Sequence[str]) -> list[tuple[int, str]]:
    check_address(ip, allow_cidrs=allow_cidrs)
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    return [(int(family), str(ip))]


async def resolve_checked(
    host: str,
    port: int,
    *,
    allow_cidrs: Sequence[str],
    family: int = socket.AF_UNSPEC,
) -> list[tuple[int, str]]:
    """Resolve ``host`` once and return ``[(family, ip)]``, every address checked.

    Raises :class:`EgressDenied` if any address is refused, or when the name does
    not resolve (the tenant sees "cannot resolve NAME").
    """
    literal = _literal(host)
    if literal is not None:
        return _literal_result(literal, allow_cidrs)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(
            host, port, family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except socket.gaierror as exc:
        raise EgressDenied(f"cannot resolve {host}: {exc.strerror or exc}") from exc
    return _check_infos(host, infos, allow_cidrs)


def guarded_addresses_sync(host: str, port: int, allow_cidrs: Sequence[str]) -> list[str]:
    """Blocking twin of :func:`resolve_checked` for ``requests``-based senders,
    which must then connect to one of these addresses (pinning), not re-resolve."""
    literal = _literal(host)
    if literal is not None:
        return [ip for _f, ip in _literal_result(literal, allow_cidrs)]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise EgressDenied(f"cannot resolve {host}: {exc.strerror or exc}") from exc
    return [ip for _f, ip in _check_infos(host, infos, allow_cidrs)]


def _settings_allow_cidrs() -> list[str]:
    return list(getattr(settings, "EGRESS_ALLOW_CIDRS", []))


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that only returns checked addresses.

    aiohttp connects to the ``host`` of the returned records, so the address that
    was checked is the one connected to; ``hostname`` keeps the original name so
    TLS SNI and certificate matching use it. aiohttp skips resolvers for literal IP
    URLs, so callers must run :func:`check_address` on those themselves.
    """

    def __init__(self, allow_cidrs: Sequence[str] | None = None) -> None:
        self.allow_cidrs: tuple[str, ...] = tuple(
            _settings_allow_cidrs() if allow_cidrs is None else allow_cidrs
        )
        parse_allow_cidrs(self.allow_cidrs)  # fail at construction on a bad CIDR

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        checked = await resolve_checked(host, port, allow_cidrs=self.allow_cidrs, family=family)
        return [
            ResolveResult(
                hostname=host,
                host=ip,
                port=port,
                family=fam,
                proto=0,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for fam, ip in checked
        ]

    async def close(self) -> None:
        return None


def require_https(url: str, *, production: bool) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme == "https":
        return
    if scheme == "http" and not production:
        return
    if scheme == "http":
        raise EgressDenied("only https:// URLs are allowed")
    raise EgressDenied(f"unsupported URL scheme {scheme or '(none)'}")
