"""ICMP echo probe on asyncio, without threads or subprocesses.

One socket per address family serves every ping of a run (a raw socket sees every
ICMP packet on the host, so one per probe would multiply the work by the number of
probes). Raw sockets need root or CAP_NET_RAW; without them the unprivileged
``SOCK_DGRAM`` ICMP socket is used, which Linux allows only to groups listed in
``net.ipv4.ping_group_range``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import socket
import struct
import time

from monitors.probes.base import ProbeContext, ProbeResult, ProbeSpec, Verdict, failed, timed_out
from pulse.egress import EgressDenied, resolve_checked

ECHO_REQUEST: dict[int, int] = {socket.AF_INET: 8, socket.AF_INET6: 128}
ECHO_REPLY: dict[int, int] = {socket.AF_INET: 0, socket.AF_INET6: 129}
PAYLOAD = b"pulse-icmp-probe" * 2
MAX_INTERVAL = 0.2


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _canonical(address: str) -> str:
    return str(ipaddress.ip_address(address.split("%", 1)[0]))


class Pinger:
    """Sends echo requests and matches replies to waiting futures by (address, seq)."""

    def __init__(self, sock: socket.socket, family: int, raw: bool) -> None:
        self.sock = sock
        self.family = family
        self.raw = raw
        # Raw sockets see other processes' pings too; the identifier tells ours
        # apart. Datagram sockets get theirs from the kernel, which also filters.
        self.ident = secrets.randbits(16) if raw else 0
        self._seq = secrets.randbits(16)
        self._waiters: dict[tuple[str, int], asyncio.Future[float]] = {}
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._on_readable)

    @classmethod
    def open(cls, family: int) -> Pinger:
        proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
        try:
            sock = socket.socket(family, socket.SOCK_RAW, proto)
            raw = True
        except PermissionError:
            sock = socket.socket(family, socket.SOCK_DGRAM, proto)
            raw = False
        sock.setblocking(False)
        return cls(sock, family, raw)

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFF
        return self._seq

    def _on_readable(self) -> None:
        now = time.perf_counter()
        while True:
            try:
                data, addr = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if self.raw and self.family == socket.AF_INET and data:
                data = data[(data[0] & 0x0F) * 4 :]  # raw IPv4 sockets include the IP header
            if len(data) < 8:
                continue
            kind, _code, _sum, ident, seq = struct.unpack("!BBHHH", data[:8])
            if kind != ECHO_REPLY[self.family] or (self.raw and ident != self.ident):
                continue
            waiter = self._waiters.pop((_canonical(addr[0]), seq), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(now)

    async def ping(self, address: str, deadline: float) -> float | None:
        """Round-trip time in ms, or None when no reply came by ``deadline``
        (loop time)."""
        seq = self._next_seq()
        header = struct.pack("!BBHHH", ECHO_REQUEST[self.family], 0, 0, self.ident, seq)
        if self.family == socket.AF_INET:
            # ICMPv6 checksums cover a pseudo-header and are filled in by the kernel.
            header = struct.pack(
                "!BBHHH", ECHO_REQUEST[self.family], 0, _checksum(header + PAYLOAD), self.ident, seq
            )
        key = (_canonical(address), seq)
        waiter: asyncio.Future[float] = self._loop.create_future()
        self._waiters[key] = waiter
        try:
            sent = time.perf_counter()
            self.sock.sendto(header + PAYLOAD, (address, 0))
            async with asyncio.timeout_at(deadline):
                received = await waiter
        except TimeoutError:
            return None
        finally:
            self._waiters.pop(key, None)
        return (received - sent) * 1000

    def close(self) -> None:
        self._loop.remove_reader(self.sock.fileno())
        self.sock.close()
        for waiter in self._waiters.values():
            waiter.cancel()
        self._waiters.clear()


async def probe_icmp(spec: ProbeSpec, ctx: ProbeContext) -> ProbeResult:
    count = int(spec.config.get("count") or 3)
    max_loss_pct = float(spec.config.get("max_loss_pct") or 0)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + spec.timeout
    try:
        async with asyncio.timeout_at(deadline):
            addresses = await resolve_checked(spec.target, 0, allow_cidrs=ctx.allow_cidrs)
    except TimeoutError:
        return failed(timed_out(spec.timeout, f"resolving {spec.target}"))
    except EgressDenied as exc:
        return failed(str(exc))
    family, address = addresses[0]
    try:
        pinger = await ctx.pinger(family)
    except OSError as exc:
        return failed(f"ICMP not permitted on this worker: {exc.strerror or exc}")

    interval = min(MAX_INTERVAL, spec.timeout / (2 * count))

    send_errors: list[OSError] = []

    async def one(index: int) -> float | None:
        await asyncio.sleep(index * interval)
        try:
            return await pinger.ping(address, deadline)
        except OSError as exc:
            send_errors.append(exc)
            return None

    rtts = await asyncio.gather(*(one(i) for i in range(count)))

    replies = [r for r in rtts if r is not None]
    loss_pct = round(100 * (count - len(replies)) / count, 1)
    details: dict[str, object] = {
        "address": address,
        "sent": count,
        "received": len(replies),
        "loss_pct": loss_pct,
        "socket": "raw" if pinger.raw else "dgram",
    }
    if not replies and send_errors:
        error = send_errors[0]
        return failed(f"cannot send ICMP to {address}: {error.strerror or error}", details=details)
    if not replies:
        return failed(f"100% packet loss (0 of {count} replies)", details=details)
    rtt_avg = sum(replies) / len(replies)
    details.update(
        rtt_min_ms=round(min(replies), 3),
        rtt_avg_ms=round(rtt_avg, 3),
        rtt_max_ms=round(max(replies), 3),
    )
    verdict = Verdict()
    if loss_pct > max_loss_pct:
        verdict.warn(f"{loss_pct:g}% packet loss ({len(replies)} of {count} replies)")
    return verdict.result(spec, latency_ms=rtt_avg, details=details)
