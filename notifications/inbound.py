"""Inbound provider callbacks: Twilio's message status reports (SPEC §7, INV-4).

The signature is verified before anything is written: ``X-Twilio-Signature`` is an
HMAC of the full public URL and the POST parameters, keyed with the auth token of the
Twilio account named by ``AccountSid``. That token lives encrypted in the SMS channels
that use the account, so the candidates are read (reads only) and decrypted; no token
is cached. Only then is the callback stored, once per (provider, external_id), and the
matching outbox row annotated. A callback can only touch notifications of the channels
whose token verified it, so one org cannot forge status for another org's messages.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.http import QueryDict
from twilio.request_validator import RequestValidator

from notifications.models import Channel, ChannelKind, Notification, WebhookEvent
from notifications.secrets import channel_secrets
from pulse.crypto import DecryptionError
from pulse.db import SYSTEM_DB
from pulse.logging import get_logger

log = get_logger(__name__)

PROVIDER_TWILIO = "twilio"
# Twilio reports a message's life in this order; a late "sent" must not overwrite a
# "delivered" that arrived first.
STATUS_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "receiving": 3,
    "received": 4,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "read": 5,
}
STATUS_PREFIX = "twilio: "


def twilio_verified_channels(
    *, url: str, params: QueryDict | Mapping[str, Any], signature: str
) -> list[Channel]:
    """The SMS channels whose Twilio account signed this request (empty: reject)."""
    account_sid = str(params.get("AccountSid") or "")
    if not signature or not account_sid:
        return []
    verified: list[Channel] = []
    for channel in Channel.all_orgs.filter(kind=ChannelKind.SMS, secrets__isnull=False):
        try:
            secrets = channel_secrets(channel)
        except DecryptionError:
            log.warning("twilio.channel_undecryptable", channel_id=str(channel.id))
            continue
        stored_sid = str(secrets.get("account_sid") or "")
        token = str(secrets.get("auth_token") or "")
        if not token or not hmac.compare_digest(stored_sid.encode(), account_sid.encode()):
            continue
        if RequestValidator(token).validate(url, params, signature):
            verified.append(channel)
    return verified


def status_text(status: str, error_code: str) -> str:
    text = f"{STATUS_PREFIX}{status}"
    return f"{text} ({error_code})" if error_code and error_code != "0" else text


def _rank_of(last_error: str) -> int:
    if not last_error.startswith(STATUS_PREFIX):
        return -1
    status = last_error[len(STATUS_PREFIX) :].split(" ", 1)[0]
    return STATUS_RANK.get(status, -1)


def twilio_record_status(*, channels: list[Channel], params: QueryDict | Mapping[str, Any]) -> bool:
    """Store the verified callback once and annotate its notification. Returns False
    when this (message, status) was already recorded."""
    message_sid = str(params.get("MessageSid") or params.get("SmsSid") or "")
    status = str(params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    error_code = str(params.get("ErrorCode") or "")
    # The account SID is kept only encrypted, in the channel; the rest is stored as sent.
    payload: dict[str, Any] = {}
    for key in params:
        if key == "AccountSid":
            continue
        values = params.getlist(key) if isinstance(params, QueryDict) else [params[key]]
        payload[key] = values[0] if len(values) == 1 else values
    channel_ids = [channel.id for channel in channels]
    with transaction.atomic(using=SYSTEM_DB):
        notification = (
            Notification.all_orgs.select_for_update()
            .filter(external_id=message_sid, channel_id__in=channel_ids)
            .first()
        )
        org_id = notification.org_id if notification else channels[0].org_id
        _event, created = WebhookEvent.all_orgs.get_or_create(
            provider=PROVIDER_TWILIO,
            external_id=f"{message_sid}:{status}"[:200],
            defaults={"org_id": org_id, "payload": payload},
        )
        if not created:
            return False
        if notification is not None and STATUS_RANK.get(status, 0) >= _rank_of(
            notification.last_error
        ):
            notification.last_error = status_text(status, error_code)
            update = ["last_error"]
            if error_code.isdigit() and error_code != "0":
                notification.last_status_code = int(error_code)
                update.append("last_status_code")
            notification.save(using=SYSTEM_DB, update_fields=update)
    log.info(
        "twilio.status",
        message_sid=message_sid,
        status=status,
        error_code=error_code or None,
        matched=notification is not None,
    )
    return True
