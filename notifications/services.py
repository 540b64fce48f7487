"""Writes for notification channels: create, update, delete and "send test".

Secrets are write-only: they are validated, encrypted into ``Channel.secrets`` and
never returned; an update that leaves a secret out keeps the stored one. The audit log
records which secrets changed, never their values.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import Actor, audit_record, diff
from accounts.models import Organization
from accounts.permissions import Perm, require
from notifications.channels import UnknownChannelKind, get_channel_type
from notifications.channels.base import ChannelType, Delivery, Message, SendContext
from notifications.models import Channel, ChannelKind
from notifications.secrets import channel_secrets, seal_secrets
from pulse import tenancy
from pulse.crypto import DecryptionError
from pulse.logging import get_logger

log = get_logger(__name__)

NAME_MAX = 200


def send_context(**extra: Any) -> SendContext:
    """The context every send from this process uses, from settings."""
    return SendContext(
        allow_cidrs=tuple(getattr(settings, "EGRESS_ALLOW_CIDRS", ())),
        production=bool(settings.IS_PROD),
        timeout=float(getattr(settings, "NOTIFY_TIMEOUT_SECONDS", 10)),
        public_url=settings.PUBLIC_URL,
        extra=extra,
    )


def _kind(value: Any) -> ChannelType:
    try:
        return get_channel_type(str(value))
    except UnknownChannelKind:
        choices = ", ".join(ChannelKind.values)
        raise ValidationError({"kind": [f"Choose one of {choices}."]}) from None


def _name(value: Any) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name:
        raise ValidationError({"name": ["Enter a name."]})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": [f"At most {NAME_MAX} characters."]})
    return name


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, Mapping):
        raise ValidationError({key: ["Must be an object."]})
    return value


def _given_secrets(data: Mapping[str, Any]) -> dict[str, Any]:
    # An empty field in a form means "keep what is stored", not "erase it".
    return {k: v for k, v in _mapping(data, "secrets").items() if v not in (None, "")}


def channel_create(*, actor: Actor, role: str | None, data: Mapping[str, Any]) -> Channel:
    require(role, Perm.CHANNEL_WRITE)
    kind = _kind(data.get("kind"))
    name = _name(data.get("name"))
    given = {k: v for k, v in _mapping(data, "config").items() if k != "url_display"}
    config, secrets = kind.validate(given, _given_secrets(data), has_secrets=False)
    channel = Channel(org_id=tenancy.require_org_id(), kind=kind.kind, name=name, config=config)
    seal_secrets(channel, secrets)
    with transaction.atomic():
        channel.save(force_insert=True)
        audit_record(
            actor=actor,
            action="channel.create",
            org_id=channel.org_id,
            target=channel,
            changes={
                "kind": channel.kind,
                "name": name,
                "config": config,
                "encrypted_fields": sorted(secrets),
            },
        )
    return channel


def channel_update(
    *, actor: Actor, role: str | None, channel: Channel, data: Mapping[str, Any]
) -> Channel:
    """Change name, config, secrets or enabled. Secrets left out keep their stored
    values; config keys left out keep theirs too."""
    require(role, Perm.CHANNEL_WRITE)
    if "kind" in data and data["kind"] != channel.kind:
        raise ValidationError({"kind": ["The kind of a channel cannot change."]})
    kind = _kind(channel.kind)
    stored = channel_secrets(channel)
    # url_display is derived from secrets.url, never taken from the caller.
    given = {k: v for k, v in _mapping(data, "config").items() if k != "url_display"}
    config_in = {**channel.config, **given}
    config, new_secrets = kind.validate(config_in, _given_secrets(data), has_secrets=bool(stored))
    name = _name(data["name"]) if "name" in data else channel.name
    secrets = {**stored, **new_secrets}
    changed_secrets = sorted(k for k, v in new_secrets.items() if stored.get(k) != v)
    before = {"name": channel.name, "config": channel.config, "enabled": channel.enabled}
    channel.name, channel.config = name, config
    if "enabled" in data:
        channel.enabled = bool(data["enabled"])
        if channel.enabled:
            channel.disabled_reason = ""
    if changed_secrets:
        seal_secrets(channel, secrets)
    after = {"name": channel.name, "config": channel.config, "enabled": channel.enabled}
    changes: dict[str, Any] = diff(before, after)
    if changed_secrets:
        changes["encrypted_fields_changed"] = changed_secrets
    with transaction.atomic():
        channel.save(update_fields=["name", "config", "enabled", "disabled_reason", "secrets"])
        audit_record(
            actor=actor,
            action="channel.update",
            org_id=channel.org_id,
            target=channel,
            changes=changes,
        )
    return channel


def channel_delete(*, actor: Actor, role: str | None, channel: Channel) -> None:
    require(role, Perm.CHANNEL_WRITE)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="channel.delete",
            org_id=channel.org_id,
            target=channel,
            changes={"kind": channel.kind, "name": channel.name},
        )
        channel.delete()


def synthetic_message(channel: Channel) -> Message:
    """A synthetic notification with the shape of a real one (``alerting.engine``)."""
    org = Organization.objects.filter(id=channel.org_id).only("name").first()
    now = timezone.now().isoformat()
    event_id = uuid.uuid4()
    key = f"test_{uuid.uuid4().hex}"
    return Message(
        notification_id=key,
        idempotency_key=key,
        event="test",
        payload={
            "type": "test",
            "event_id": str(event_id),
            "occurred_at": now,
            "org": {"id": str(channel.org_id), "name": org.name if org else ""},
            "monitor": None,
            "incident": None,
            "check": None,
            "links": {"monitor": None, "incident": None},
        },
    )


def channel_test(
    *, actor: Actor, role: str | None, channel: Channel, ctx: SendContext | None = None
) -> Delivery:
    """Send a test message now, through the kind's own ``send`` (the notifier's path),
    outside any transaction; nothing goes to the outbox. The attempt is audited."""
    require(role, Perm.CHANNEL_WRITE)
    kind = _kind(channel.kind)
    secrets = channel_secrets(channel)
    message = synthetic_message(channel)
    outcome: Delivery = async_to_sync(kind.send)(
        message, channel.config, secrets, ctx or send_context()
    )
    audit_record(
        actor=actor,
        action="channel.test",
        org_id=channel.org_id,
        target=channel,
        changes={
            "ok": outcome.ok,
            "status_code": outcome.status_code,
            "error": outcome.error,
        },
    )
    return outcome


def channel_public_config(channel: Channel) -> dict[str, Any]:
    """What a form or the API may show: the config, and the names of stored secrets.
    Secrets that no key of the ring opens (a key dropped too early) show as unreadable
    rather than failing the whole listing; sending from such a channel still fails."""
    try:
        names = sorted(channel_secrets(channel))
    except DecryptionError:
        log.error("channel.secrets_unreadable", channel_id=str(channel.id))
        return {**channel.config, "secrets_set": [], "secrets_unreadable": True}
    return {**channel.config, "secrets_set": names}
