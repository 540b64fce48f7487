"""Channel secrets: sealed with AES-256-GCM (``pulse.crypto``) into ``Channel.secrets``,
the row id as associated data, and registered with the log scrubber whenever they are
opened, so no log line ever carries one (SPEC §7)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.db import transaction

from notifications.models import Channel
from pulse import crypto
from pulse.db import SYSTEM_DB
from pulse.logging import get_logger, register_secret

log = get_logger(__name__)

# A URL secret (Slack, Teams, webhook) is masked whole and by its token-like parts,
# because an error text may quote only a path or a query value.
_FRAGMENT_MIN = 16


def secret_fragments(value: str) -> Iterator[str]:
    """``value`` and, for URLs, the parts that carry keys: userinfo password, long path
    segments and long query values."""
    yield value
    if "://" not in value:
        return
    try:
        parts = urlsplit(value)
    except ValueError:
        return
    if parts.password:
        yield parts.password
        yield unquote(parts.password)
    if len(parts.query) >= _FRAGMENT_MIN:
        yield parts.query
        for _name, item in parse_qsl(parts.query, keep_blank_values=False):
            if len(item) >= _FRAGMENT_MIN:
                yield item
    for segment in parts.path.split("/"):
        if len(segment) >= _FRAGMENT_MIN:
            yield segment
            yield unquote(segment)


def secret_strings(secrets: Mapping[str, Any]) -> list[str]:
    """Every string inside ``secrets`` (values of nested header maps too)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.extend(secret_fragments(value))
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(secrets)
    return [s for s in dict.fromkeys(found) if s]


def register_secrets(secrets: Mapping[str, Any]) -> None:
    for value in secret_strings(secrets):
        register_secret(value)


def channel_secrets(channel: Channel) -> dict[str, Any]:
    """Decrypt the channel's secrets (empty when none are stored) and register each value
    with the log scrubber before anyone can log it."""
    if not channel.secrets:
        return {}
    data = crypto.decrypt_json(bytes(channel.secrets), aad=channel.id.bytes)
    if not isinstance(data, dict):
        raise crypto.DecryptionError("channel secrets are not a JSON object")
    register_secrets(data)
    return data


def seal_secrets(channel: Channel, secrets: Mapping[str, Any]) -> None:
    """Encrypt ``secrets`` into ``channel.secrets`` (not saved); empty values are dropped."""
    clean = {key: value for key, value in secrets.items() if value not in (None, "", {}, [])}
    register_secrets(clean)
    channel.secrets = crypto.encrypt_json(clean, aad=channel.id.bytes) if clean else None


@dataclass(frozen=True)
class RotationReport:
    total: int
    rotated: int
    primary: str


def reencrypt_all() -> RotationReport:
    """Re-encrypt every channel's secrets, in every org, with the primary key.

    Each row is re-read under a row lock, so a concurrent ``channel_update`` cannot be
    overwritten with the secrets it just replaced."""
    primary = crypto.key_ring().primary
    ids = list(
        Channel.all_orgs.filter(secrets__isnull=False).order_by("id").values_list("id", flat=True)
    )
    rotated = 0
    for channel_id in ids:
        with transaction.atomic(using=SYSTEM_DB):
            channel = Channel.all_orgs.select_for_update().filter(id=channel_id).first()
            if channel is None or not channel.secrets:
                continue
            if crypto.key_id_of(channel.secrets) == primary:
                continue
            seal_secrets(channel, channel_secrets(channel))
            Channel.all_orgs.filter(id=channel_id).update(secrets=channel.secrets)
            rotated += 1
    log.info("channels.keys_rotated", total=len(ids), rotated=rotated, key_id=primary)
    return RotationReport(total=len(ids), rotated=rotated, primary=primary)
