"""DNS probe (dnspython's asyncio resolver): the record set of one type for one
name, from the system resolver or a chosen one, compared with expected answers."""

from __future__ import annotations

import ipaddress
import time
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from monitors.probes.base import ProbeContext, ProbeResult, ProbeSpec, Verdict, failed, timed_out
from pulse.egress import EgressDenied, check_address

_SYSTEM = "dns.system_resolver"


def normalize_answer(record_type: str, text: str) -> str:
    """The comparable form of one answer or expected value: lowercase, no trailing
    dot, canonical IPs, ``pref host`` for MX, TXT without quotes."""
    value = " ".join(text.split())
    if record_type in ("A", "AAAA"):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return value.lower()
    if record_type == "TXT":
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        return value.lower()
    if record_type == "MX":
        pref, _, host = value.partition(" ")
        return f"{pref} {host.rstrip('.').lower()}" if host else value.rstrip(".").lower()
    return value.rstrip(".").lower()


def _answer_text(record_type: str, rdata: Any) -> str:
    if record_type in ("A", "AAAA"):
        return str(ipaddress.ip_address(rdata.address))
    if record_type == "MX":
        return f"{rdata.preference} {rdata.exchange.to_text().rstrip('.').lower()}"
    if record_type == "TXT":
        return b"".join(rdata.strings).decode("utf-8", errors="replace")
    return str(rdata.target.to_text()).rstrip(".").lower()


def _resolver(spec: ProbeSpec, ctx: ProbeContext) -> tuple[dns.asyncresolver.Resolver, str]:
    server = spec.config.get("resolver")
    if server:
        ip = ipaddress.ip_address(str(server))
        # A tenant-chosen resolver is a destination like any other: without the
        # guard, DNS probes would reach internal name servers.
        check_address(ip, allow_cidrs=ctx.allow_cidrs)
        port = int(spec.config.get("port") or 53)
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(str(ip), port)]
        label = f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
        return resolver, label
    system = ctx.cache.get(_SYSTEM)
    if system is None:
        system = dns.asyncresolver.Resolver(configure=True)
        ctx.cache[_SYSTEM] = system
    return system, "system resolver"


def _nameserver_errors(exc: dns.resolver.NoNameservers) -> str:
    errors = exc.kwargs.get("errors") or []
    texts = [str(err[3]) for err in errors if len(err) > 3]
    return "; ".join(dict.fromkeys(texts)) or "no usable answer"


async def probe_dns(spec: ProbeSpec, ctx: ProbeContext) -> ProbeResult:
    record_type = str(spec.config.get("record_type") or "A").upper()
    try:
        resolver, label = _resolver(spec, ctx)
    except EgressDenied as exc:
        return failed(f"resolver refused: {exc}")
    except dns.resolver.NoResolverConfiguration:
        return failed("no system DNS resolver is configured on this worker")
    details: dict[str, Any] = {"resolver": label, "record_type": record_type}
    name = dns.name.from_text(spec.target)
    start = time.perf_counter()
    try:
        answer = await resolver.resolve(
            name,
            dns.rdatatype.from_text(record_type),
            lifetime=spec.timeout,
            search=False,
        )
    except dns.resolver.NXDOMAIN:
        return failed(f"NXDOMAIN: no such name {spec.target}", details=details)
    except dns.resolver.NoAnswer:
        return failed(f"no answer for {record_type}", details=details)
    except dns.exception.Timeout:
        return failed(timed_out(spec.timeout, f"waiting for {label}"), details=details)
    except dns.resolver.NoNameservers as exc:
        return failed(f"{label} failed: {_nameserver_errors(exc)}", details=details)
    except dns.exception.DNSException as exc:
        return failed(f"DNS error: {exc}", details=details)
    latency_ms = (time.perf_counter() - start) * 1000

    answers = [_answer_text(record_type, rdata) for rdata in answer]
    details["answers"] = answers
    if answer.rrset is not None:
        details["ttl"] = answer.rrset.ttl
    have = {normalize_answer(record_type, a) for a in answers}
    verdict = Verdict()
    missing = [
        e for e in spec.config.get("expected") or [] if normalize_answer(record_type, e) not in have
    ]
    if missing:
        shown = ", ".join(answers)
        wanted = ", ".join(repr(m) for m in missing)
        verdict.fail(f"expected {wanted} not in answers [{shown}]")
    return verdict.result(spec, latency_ms=latency_ms, details=details)
