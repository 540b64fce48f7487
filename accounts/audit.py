"""The audit log writer: every mutation in the product calls ``audit_record``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models

from accounts.models import AuditLog, User
from pulse.logging import REDACTED, SECRET_KEY_PATTERN
from pulse.requestctx import current_request_meta


@dataclass(frozen=True)
class Actor:
    """Who did it: a user, an API key, or the system (a task, the scheduler)."""

    user: User | None = None
    api_key_id: uuid.UUID | None = None
    label: str = ""

    @classmethod
    def system(cls, label: str) -> Actor:
        return cls(label=f"system:{label}")

    @property
    def display(self) -> str:
        if self.user is not None:
            return self.user.email
        return self.label or "system"


def redact_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Secret-looking keys never reach the audit log, at any depth."""
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        if SECRET_KEY_PATTERN.search(str(key)):
            clean[key] = REDACTED
        elif isinstance(value, Mapping):
            clean[key] = redact_changes(value)
        else:
            clean[key] = value
    return clean


def audit_record(
    *,
    actor: Actor,
    action: str,
    org_id: uuid.UUID | None,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    target_label: str = "",
    changes: Mapping[str, Any] | None = None,
    using: str = "default",
) -> AuditLog:
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
        target_label = target_label or str(target)[:254]
    meta = current_request_meta()
    entry = AuditLog(
        org_id=org_id,
        actor_user=actor.user,
        actor_api_key_id=actor.api_key_id,
        actor_label=actor.display[:254],
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label[:254],
        changes=redact_changes(changes or {}),
        ip=meta.ip,
        request_id=meta.request_id,
    )
    entry.save(using=using, force_insert=True)
    return entry


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """{field: [old, new]} for fields whose value changed."""
    return {
        key: [before.get(key), after.get(key)]
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }
