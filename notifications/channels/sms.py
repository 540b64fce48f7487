"""SMS through Twilio's Messages API, with the official ``twilio`` client.

One message per recipient; each asks Twilio to report its delivery to our status
callback (``<PUBLIC_URL>/v1/webhooks/twilio/status``), which ``notifications.inbound``
verifies and records. The first accepted message's SID is the delivery's
``external_id``.

Tests (and a Twilio-compatible gateway) point the client elsewhere with
``SendContext.extra["twilio_base_url"]`` or the ``TWILIO_API_BASE_URL`` setting: the
client's ``api`` domain takes a ``base_url`` that every Messages call is built on.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from notifications.channels import (
    FieldErrors,
    Summary,
    optional_str,
    string_list,
    summarize,
    truncate,
)
from notifications.channels.base import ChannelType, Delivery, Message, SendContext
from notifications.channels.http import safe_text
from notifications.secrets import secret_strings
from pulse.logging import get_logger

log = get_logger(__name__)

STATUS_CALLBACK_PATH = "/v1/webhooks/twilio/status"
MAX_RECIPIENTS = 10
# Two GSM-7 segments; plain ASCII keeps Twilio from switching to UCS-2 (70 per segment).
BODY_LIMIT = 306
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
AUTH_TOKEN = re.compile(r"^[0-9a-fA-F]{32}$")


def sms_body(summary: Summary) -> str:
    if summary.is_test:
        text = f"Pulse test: this SMS channel works{f' ({summary.org})' if summary.org else ''}."
    else:
        text = f"Pulse {summary.headline}"
        if summary.error:
            text += f" - {summary.error}"
    link = f" {summary.link}" if summary.link else ""
    text = truncate(text, BODY_LIMIT - len(link)) + link
    return text.encode("ascii", errors="replace").decode("ascii")


def base_url_for(ctx: SendContext) -> str | None:
    value = ctx.extra.get("twilio_base_url") or getattr(settings, "TWILIO_API_BASE_URL", None)
    return str(value).rstrip("/") if value else None


@dataclass(frozen=True)
class _Attempt:
    to: str
    sid: str = ""
    status: int | None = None
    error: str = ""
    permanent: bool = False


def _rest_error(exc: TwilioRestException, secrets: list[str]) -> _Attempt:
    status = int(exc.status)
    code = f", error {exc.code}" if exc.code else ""
    # exc.uri and str(exc) carry the account SID: only the message is shown, scrubbed.
    reason = str(exc.msg or "").removeprefix("Unable to create record: ")
    text = f"Twilio HTTP {status}{code}: {safe_text(reason, secrets)}"
    return _Attempt(
        to="", status=status, error=text, permanent=400 <= status < 500 and status != 429
    )


def _create_messages(
    account_sid: str,
    auth_token: str,
    *,
    from_number: str,
    to: Sequence[str],
    body: str,
    status_callback: str,
    base_url: str | None,
    timeout: float,
    secrets: list[str],
) -> list[_Attempt]:
    http_client = TwilioHttpClient(timeout=timeout)
    client = Client(account_sid, auth_token, http_client=http_client)
    if base_url:
        client.api.base_url = base_url
        # A TWILIO_EDGE/REGION in the environment would rewrite the host of the override.
        client.edge = None
        client.region = None
        if http_client.session is not None:
            http_client.session.trust_env = False
    extra: dict[str, Any] = {"status_callback": status_callback} if status_callback else {}
    attempts: list[_Attempt] = []
    try:
        for number in to:
            try:
                created = client.messages.create(to=number, from_=from_number, body=body, **extra)
            except TwilioRestException as exc:
                failed = _rest_error(exc, secrets)
                attempts.append(
                    _Attempt(
                        number, status=failed.status, error=failed.error, permanent=failed.permanent
                    )
                )
            except requests.Timeout:
                attempts.append(_Attempt(number, error=f"timed out after {timeout:g} s (Twilio)"))
            except requests.ConnectionError:
                attempts.append(_Attempt(number, error="cannot connect to Twilio"))
            except (TwilioException, requests.RequestException) as exc:
                attempts.append(
                    _Attempt(number, error=f"Twilio request failed ({type(exc).__name__})")
                )
            else:
                attempts.append(_Attempt(number, sid=str(created.sid or ""), status=201))
    finally:
        if http_client.session is not None:
            http_client.session.close()
    return attempts


class SmsChannel(ChannelType):
    kind = "sms"
    label = "SMS (Twilio)"
    secret_fields = ("account_sid", "auth_token")

    def validate(
        self, config: Mapping[str, Any], secrets: Mapping[str, Any], *, has_secrets: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        errors = FieldErrors()
        out_config: dict[str, Any] = {}
        out_secrets: dict[str, Any] = {}
        to = string_list(config.get("to"))
        if to is None:
            errors.add("config.to", "Enter a list of phone numbers.")
        elif not to:
            errors.add("config.to", "Enter at least one phone number.")
        elif len(to) > MAX_RECIPIENTS:
            errors.add("config.to", f"At most {MAX_RECIPIENTS} numbers.")
        else:
            bad = [number for number in to if not E164.match(number)]
            if bad:
                errors.add(
                    "config.to",
                    f"Use the international E.164 format (+14155550100): {', '.join(bad[:3])}.",
                )
            out_config["to"] = list(dict.fromkeys(to))
        from_number = optional_str(config, "from_number")
        if not from_number:
            errors.add("config.from_number", "Enter the Twilio number to send from.")
        elif not E164.match(from_number):
            errors.add("config.from_number", "Use the E.164 format (+14155550100).")
        else:
            out_config["from_number"] = from_number
        for name, pattern, hint in (
            ("account_sid", ACCOUNT_SID, "AC followed by 32 hexadecimal characters"),
            ("auth_token", AUTH_TOKEN, "32 hexadecimal characters"),
        ):
            value = optional_str(secrets, name)
            if not value:
                if not has_secrets:
                    errors.add(f"secrets.{name}", "This field is required.")
            elif not pattern.match(value):
                errors.add(f"secrets.{name}", f"Expected {hint}.")
            else:
                out_secrets[name] = value
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
        from_number = optional_str(config, "from_number")
        account_sid = optional_str(secrets, "account_sid")
        auth_token = optional_str(secrets, "auth_token")
        if not to or not from_number or not account_sid or not auth_token:
            return Delivery(ok=False, permanent=True, error="the SMS channel is incomplete")
        summary = summarize(message, public_url=ctx.public_url)
        callback = f"{ctx.public_url.rstrip('/')}{STATUS_CALLBACK_PATH}" if ctx.public_url else ""
        secret_list = secret_strings(secrets)
        start = time.perf_counter()
        attempts = await asyncio.to_thread(
            _create_messages,
            account_sid,
            auth_token,
            from_number=from_number,
            to=to,
            body=sms_body(summary),
            status_callback=callback,
            base_url=base_url_for(ctx),
            timeout=ctx.timeout,
            secrets=secret_list,
        )
        latency_ms = round((time.perf_counter() - start) * 1000, 2)
        accepted = [a for a in attempts if a.sid]
        failed = [a for a in attempts if not a.sid]
        if failed:
            log.warning(
                "notify.sms_failed",
                failed=len(failed),
                recipients=len(attempts),
                error=failed[0].error,
            )
        if accepted:
            # A retry would text the numbers that already have the alert again; the
            # failures are reported instead.
            error = (
                f"{len(failed)} of {len(attempts)} recipient(s) failed: {failed[0].error}"
                if failed
                else ""
            )
            return Delivery(
                ok=True,
                status_code=201,
                external_id=accepted[0].sid,
                error=error,
                latency_ms=latency_ms,
            )
        first = failed[0]
        return Delivery(
            ok=False,
            status_code=first.status,
            error=first.error,
            permanent=all(a.permanent for a in failed),
            latency_ms=latency_ms,
        )
