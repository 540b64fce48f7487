"""E-mail over SMTP: a text and an HTML body from the ``emails/alert`` template triplet.

With ``config.host`` the tenant's own server is used (through the egress guard: the
name is resolved once, every address checked, and the connection pinned to a checked
one while EHLO/STARTTLS keep the name); without it, the platform's mail settings
(``EMAIL_*`` / ``EMAIL_BACKEND``) are. smtplib blocks, so it runs in a thread; every
socket operation has the send timeout.
"""

from __future__ import annotations

import asyncio
import email.policy
import ipaddress
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.utils import DNS_NAME
from django.core.validators import validate_email

from notifications.channels import (
    FieldErrors,
    Summary,
    optional_str,
    string_list,
    summarize,
    truncate,
)
from notifications.channels.base import ChannelType, Delivery, Message, SendContext
from notifications.channels.http import refused_literal, safe_text
from notifications.secrets import secret_strings
from pulse.egress import EgressDenied, guarded_addresses_sync
from pulse.lib.mail import render_email
from pulse.logging import get_logger

log = get_logger(__name__)

MAX_RECIPIENTS = 20
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)


def _valid_address(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class _Server:
    host: str
    port: int
    starttls: bool
    username: str
    password: str
    timeout: float


class _PinnedSMTP(smtplib.SMTP):
    """Connects to a checked address while EHLO, STARTTLS (SNI, certificate name) and
    the log speak about the host name (``connect(host)`` keeps it as ``_host``)."""

    def __init__(self, address: str, *, timeout: float) -> None:
        self._pinned_address = address
        super().__init__(local_hostname=DNS_NAME.get_fqdn(), timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection((self._pinned_address, port), timeout, self.source_address)


def _send_pinned(
    server: _Server, allow_cidrs: Sequence[str], from_addr: str, to: list[str], data: bytes
) -> dict[str, tuple[int, bytes]]:
    addresses = guarded_addresses_sync(server.host, server.port, allow_cidrs)
    last_error: OSError | None = None
    for address in addresses:
        smtp = _PinnedSMTP(address, timeout=server.timeout)
        try:
            smtp.connect(server.host, server.port)
        except OSError as exc:
            last_error = exc
            smtp.close()
            continue
        try:
            smtp.ehlo()
            if server.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if server.username:
                smtp.login(server.username, server.password)
            refused = smtp.sendmail(from_addr, to, data)
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
        return refused
    raise last_error or OSError("no address to connect to")


def _send_platform(message: EmailMultiAlternatives, timeout: float) -> None:
    # The operator's relay (or the dev file backend): not a tenant destination.
    connection = get_connection(fail_silently=False, timeout=timeout)
    message.connection = connection
    message.send()


def _reply_text(raw: bytes | str, secrets: list[str]) -> str:
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return safe_text(text, secrets)


def smtp_outcome(exc: BaseException, host: str, secrets: list[str]) -> Delivery:
    """SMTP 5xx replies are final, 4xx and connection trouble are retried."""
    if isinstance(exc, EgressDenied):
        return Delivery(ok=False, permanent=True, error=str(exc))
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _reply in exc.recipients.values()] or [0]
        first = next(iter(exc.recipients.values()), (0, b""))
        return Delivery(
            ok=False,
            status_code=codes[0],
            permanent=all(500 <= code < 600 for code in codes),
            error=(
                f"SMTP {codes[0]} from {host}: all {len(codes)} recipient(s) refused: "
                f"{_reply_text(first[1], secrets)}"
            ),
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        code = int(exc.smtp_code)
        what = "authentication failed" if isinstance(exc, smtplib.SMTPAuthenticationError) else ""
        reply = _reply_text(exc.smtp_error, secrets)
        return Delivery(
            ok=False,
            status_code=code,
            permanent=500 <= code < 600,
            error=f"SMTP {code} from {host}: {what + ': ' if what else ''}{reply}",
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return Delivery(
            ok=False,
            permanent=True,
            error=f"{host} does not support a required SMTP extension (STARTTLS or AUTH)",
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return Delivery(ok=False, error=f"{host} closed the SMTP connection")
    if isinstance(exc, TimeoutError):
        return Delivery(ok=False, error=f"timed out talking to {host}")
    if isinstance(exc, ssl.SSLError):
        return Delivery(ok=False, error=f"TLS with {host} failed ({exc.reason or 'handshake'})")
    if isinstance(exc, ConnectionRefusedError):
        return Delivery(ok=False, error=f"cannot connect to {host}: connection refused")
    if isinstance(exc, OSError):
        return Delivery(ok=False, error=f"cannot connect to {host}: {exc.strerror or 'error'}")
    return Delivery(ok=False, error=f"sending to {host} failed ({type(exc).__name__})")


def build_message(
    summary: Summary, message: Message, *, from_email: str, to: list[str], public_url: str
) -> EmailMultiAlternatives:
    subject, text, html = render_email(
        "alert",
        {
            "summary": summary,
            "payload": message.payload,
            "public_url": public_url,
        },
    )
    domain = parseaddr(from_email)[1].rpartition("@")[2] or "pulse.invalid"
    mail = EmailMultiAlternatives(
        subject=truncate(subject, 200),
        body=text,
        from_email=from_email,
        to=to,
        headers={
            # The same id on every retry: mail systems fold duplicates of one alert.
            "Message-ID": f"<{message.idempotency_key}@{domain}>",
            "Auto-Submitted": "auto-generated",
            "X-Pulse-Event": message.event,
        },
    )
    mail.attach_alternative(html, "text/html")
    return mail


class EmailChannel(ChannelType):
    kind = "email"
    label = "E-mail"
    secret_fields = ("username", "password")

    def validate(
        self, config: Mapping[str, Any], secrets: Mapping[str, Any], *, has_secrets: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        errors = FieldErrors()
        out_config: dict[str, Any] = {}
        out_secrets: dict[str, Any] = {}

        to = string_list(config.get("to"))
        if to is None:
            errors.add("config.to", "Enter a list of e-mail addresses.")
        elif not to:
            errors.add("config.to", "Enter at least one e-mail address.")
        elif len(to) > MAX_RECIPIENTS:
            errors.add("config.to", f"At most {MAX_RECIPIENTS} addresses.")
        else:
            bad = [address for address in to if not _valid_address(address)]
            if bad:
                errors.add("config.to", f"Not a valid e-mail address: {', '.join(bad[:3])}.")
            out_config["to"] = list(dict.fromkeys(to))

        host = optional_str(config, "host").strip("[]")
        if host:
            if not (_HOSTNAME.match(host) or _is_ip(host)):
                errors.add("config.host", "Enter a host name or an IP address, without a port.")
            elif refused := refused_literal(host):
                errors.add("config.host", f"The host is not a public address ({refused}).")
            out_config["host"] = host
        starttls = config.get("starttls", True)
        if not isinstance(starttls, bool):
            errors.add("config.starttls", "Must be true or false.")
        elif host:
            out_config["starttls"] = starttls
        port = config.get("port")
        if port not in (None, ""):
            if isinstance(port, str) and port.isdigit():
                port = int(port)
            if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
                errors.add("config.port", "Enter a port between 1 and 65535.")
            elif host:
                out_config["port"] = port
        from_email = optional_str(config, "from_email")
        if from_email:
            _name, address = parseaddr(from_email)
            if not address or not _valid_address(address) or "\n" in from_email:
                errors.add("config.from_email", "Enter an address like Alerts <alerts@x.com>.")
            out_config["from_email"] = from_email

        username, password = optional_str(secrets, "username"), secrets.get("password")
        if password not in (None, "") and not isinstance(password, str):
            errors.add("secrets.password", "Must be text.")
        if (username or password) and not host:
            errors.add("config.host", "A user name and password need your own SMTP host.")
        if password and not username and not has_secrets:
            errors.add("secrets.username", "Enter the user name that goes with the password.")
        if username:
            out_secrets["username"] = username
        if isinstance(password, str) and password:
            out_secrets["password"] = password
        errors.raise_if_any()
        return out_config, out_secrets

    async def send(
        self,
        message: Message,
        config: Mapping[str, Any],
        secrets: Mapping[str, Any],
        ctx: SendContext,
    ) -> Delivery:
        to = string_list(config.get("to")) or []
        if not to:
            return Delivery(ok=False, permanent=True, error="the channel has no recipients")
        public_url = ctx.public_url or settings.PUBLIC_URL
        from_email = optional_str(config, "from_email") or settings.DEFAULT_FROM_EMAIL
        summary = summarize(message, public_url=public_url)
        mail = build_message(summary, message, from_email=from_email, to=to, public_url=public_url)
        secret_list = secret_strings(secrets)
        host = optional_str(config, "host")
        start = time.perf_counter()
        refused: dict[str, tuple[int, bytes]] = {}
        try:
            if host:
                starttls = bool(config.get("starttls", True))
                server = _Server(
                    host=host,
                    port=int(config.get("port") or (587 if starttls else 25)),
                    starttls=starttls,
                    username=optional_str(secrets, "username"),
                    password=str(secrets.get("password") or ""),
                    timeout=ctx.timeout,
                )
                data = mail.message(policy=email.policy.SMTP).as_bytes()
                envelope_from = parseaddr(from_email)[1]
                refused = await asyncio.to_thread(
                    _send_pinned, server, tuple(ctx.allow_cidrs), envelope_from, to, data
                )
            else:
                host = str(getattr(settings, "EMAIL_HOST", "") or "the mail relay")
                await asyncio.to_thread(_send_platform, mail, ctx.timeout)
        except Exception as exc:  # smtplib, ssl and socket errors all map to an outcome
            outcome = smtp_outcome(exc, host, secret_list)
            log.warning(
                "notify.email_failed",
                host=host,
                status=outcome.status_code,
                permanent=outcome.permanent,
                error=outcome.error,
            )
            return outcome
        latency_ms = round((time.perf_counter() - start) * 1000, 2)
        error = ""
        if refused:
            codes = ", ".join(f"{addr} ({code})" for addr, (code, _r) in list(refused.items())[:5])
            error = f"{len(refused)} of {len(to)} recipient(s) refused by {host}: {codes}"
        return Delivery(ok=True, status_code=250, error=error, latency_ms=latency_ms)
