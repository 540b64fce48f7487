"""Shared by the ingest tests: API keys as the key issuer stores them, and pushes."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from django.test import Client
from django.urls import reverse

from accounts.api_keys import token_hash
from accounts.models import ApiKey, Organization
from pulse import tenancy


def make_key(
    org: Organization,
    scopes: tuple[str, ...] = ("ingest",),
    *,
    revoked_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> str:
    """A key of ``org``: ``pulse_<prefix>_<secret>``, stored as the SHA-256 of it all."""
    prefix = secrets.token_hex(4)
    token = f"pulse_{prefix}_{secrets.token_urlsafe(24)}"
    with tenancy.org_context(org.id):
        ApiKey.objects.create(
            name="agent",
            prefix=prefix,
            token_hash=token_hash(token),
            scopes=list(scopes),
            revoked_at=revoked_at,
            expires_at=expires_at,
        )
    return token


def push(
    key: str | None,
    body: Any,
    *,
    content_type: str = "application/json",
    query: str = "",
    client: Client | None = None,
    **headers: str,
) -> Any:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    extra: dict[str, Any] = dict(headers)
    if key is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return (client or Client()).post(
        reverse("ingest_metrics") + query, data=data, content_type=content_type, **extra
    )
