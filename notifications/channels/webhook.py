"""Custom webhooks, signed the Standard Webhooks way (https://www.standardwebhooks.com).

Request: ``POST <url>`` with ``Content-Type: application/json`` and

- ``webhook-id``: the notification's idempotency key; the same on every retry, so a
  receiver can drop duplicates;
- ``webhook-timestamp``: Unix seconds of this attempt;
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>``
  where ``key`` is the base64-decoded part of the channel secret after ``whsec_``.

Body (JSON, UTF-8)::

    {
      "type": "monitor.down",          # monitor.<event>, or "test" for "send test"
      "event": "down",                 # down, degraded, recovered, flapping_started,
                                       # flapping_stopped, reminder, test
      "event_id": "<uuid>",            # the incident event / transition notified about
      "occurred_at": "<ISO 8601>",
      "org": {"id": "<uuid>", "name": "..."},
      "monitor": {"id", "name", "type", "target", "status", "tags"} | null,
      "incident": {"id", "title", "status", "opened_at"} | null,
      "check": {"outcome", "error", "status_code", "latency_ms", "checked_at"} | null,
      "links": {"monitor": "<url>", "incident": "<url>" | null}
    }

Answer 2xx to accept. 408, 429 (``Retry-After`` honoured) and 5xx are retried with
backoff; 410 disables the channel; other 4xx and any 3xx (redirects are not followed)
are final.

Settings: ``secrets.url`` (may embed credentials, so it is encrypted; the config keeps
only ``url_display``), ``secrets.secret`` (``whsec_...``; generated when not given),
optional ``config.headers`` (plain) and ``secrets.headers`` (e.g. Authorization).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets as pysecrets
import time
from collections.abc import Mapping
from typing import Any

from notifications.channels import FieldErrors
from notifications.channels.base import ChannelType, Delivery, Message, SendContext
from notifications.channels.http import encode_json, post_json, validate_secret_url
from notifications.secrets import secret_strings
from pulse.logging import SECRET_KEY_PATTERN

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
SECRET_MIN_BYTES = 24
SECRET_MAX_BYTES = 64
MAX_HEADERS = 20
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
_RESERVED = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "content-encoding",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "user-agent",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)
_CREDENTIAL_HEADER = re.compile(r"auth|key|session", re.IGNORECASE)


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(pysecrets.token_bytes(32)).decode("ascii")


def normalize_secret(value: str) -> str | None:
    """``whsec_<base64>`` (the prefix may be left out), 24-64 bytes; None if invalid."""
    raw = value.strip().removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not SECRET_MIN_BYTES <= len(key) <= SECRET_MAX_BYTES:
        return None
    return SECRET_PREFIX + base64.b64encode(key).decode("ascii")


def signing_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def webhook_body(message: Message) -> dict[str, Any]:
    body = dict(message.payload)
    body.setdefault("type", "test" if message.event == "test" else f"monitor.{message.event}")
    body["event"] = message.event
    return body


def _validate_headers(
    value: Any, *, field: str, errors: FieldErrors, secret: bool
) -> dict[str, str]:
    if value in (None, "", {}):
        return {}
    if not isinstance(value, Mapping):
        errors.add(field, "Headers must be an object of name: value.")
        return {}
    if len(value) > MAX_HEADERS:
        errors.add(field, f"At most {MAX_HEADERS} headers.")
        return {}
    out: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            errors.add(field, "A header name may only use letters, digits and -_.!#$%&'*+^`|~.")
            continue
        if name.lower() in _RESERVED:
            errors.add(field, f"Pulse sets the {name} header itself.")
            continue
        if not isinstance(item, str) or len(item) > 1000 or any(ord(ch) < 32 for ch in item):
            errors.add(field, f"The value of {name} must be one line of at most 1000 characters.")
            continue
        if not secret and (SECRET_KEY_PATTERN.search(name) or _CREDENTIAL_HEADER.search(name)):
            errors.add(
                field,
                f"{name} looks like a credential: send it in secrets.headers, which is "
                "encrypted and never shown again.",
            )
            continue
        out[name] = item
    return out


class WebhookChannel(ChannelType):
    kind = "webhook"
    label = "Webhook"
    secret_fields = ("url", "secret", "headers")

    def validate(
        self, config: Mapping[str, Any], secrets: Mapping[str, Any], *, has_secrets: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        errors = FieldErrors()
        out_config, out_secrets = validate_secret_url(
            config, secrets, has_secrets=has_secrets, what="webhook URL", errors=errors
        )
        headers = _validate_headers(
            config.get("headers"), field="config.headers", errors=errors, secret=False
        )
        if headers:
            out_config["headers"] = headers
        secret_headers = _validate_headers(
            secrets.get("headers"), field="secrets.headers", errors=errors, secret=True
        )
        if secret_headers:
            out_secrets["headers"] = secret_headers
        overlap = {n.lower() for n in headers} & {n.lower() for n in secret_headers}
        if overlap:
            errors.add("config.headers", f"Set {', '.join(sorted(overlap))} in one place only.")
        secret = secrets.get("secret")
        if secret not in (None, ""):
            normalized = normalize_secret(secret) if isinstance(secret, str) else None
            if normalized is None:
                errors.add(
                    "secrets.secret",
                    "Use whsec_ followed by the base64 of 24 to 64 random bytes, or leave it "
                    "empty to have one generated.",
                )
            else:
                out_secrets["secret"] = normalized
        elif not has_secrets:
            out_secrets["secret"] = generate_secret()
        errors.raise_if_any()
        return out_config, out_secrets

    async def send(
        self,
        message: Message,
        config: Mapping[str, Any],
        secrets: Mapping[str, Any],
        ctx: SendContext,
    ) -> Delivery:
        url, secret = secrets.get("url"), secrets.get("secret")
        if not isinstance(url, str) or not url:
            return Delivery(ok=False, permanent=True, error="the channel has no URL")
        if not isinstance(secret, str) or normalize_secret(secret) is None:
            return Delivery(ok=False, permanent=True, error="the channel has no signing secret")
        body = encode_json(webhook_body(message))
        timestamp = int(time.time())
        headers: dict[str, str] = {
            **dict(config.get("headers") or {}),
            **dict(secrets.get("headers") or {}),
            "webhook-id": message.idempotency_key,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, message.idempotency_key, timestamp, body),
        }
        return await post_json(
            url, body, ctx=ctx, headers=headers, secrets=secret_strings(secrets), kind=self.kind
        )
