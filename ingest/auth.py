"""API-key authentication for the push endpoints (``Authorization: Bearer pulse_…``).

The key lookup (SHA-256 of the whole token, across orgs: the key is what names the
org) and the throttled last-use record are accounts.api_keys'; this adds what ingest
needs on top — 401 versus 403, and an answer without DRF's machinery on the hot path.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.http import HttpRequest

from accounts.api_keys import api_key_for_token, api_key_touch
from accounts.models import ApiScope
from pulse import tenancy
from pulse.middleware import client_ip

_BEARER = re.compile(r"^Bearer\s+(\S+)\s*$", re.IGNORECASE)


class IngestAuthError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class IngestKey:
    key_id: uuid.UUID
    org_id: uuid.UUID


def authenticate_ingest(request: HttpRequest) -> IngestKey:
    """The key's org, or IngestAuthError: 401 for a missing, unknown, revoked or
    expired key (one message for all three: no hint which), 403 without the ingest
    scope."""
    match = _BEARER.match(request.headers.get("Authorization", ""))
    if match is None:
        raise IngestAuthError(
            401, "Send an API key with the ingest scope: Authorization: Bearer pulse_…"
        )
    key = api_key_for_token(match.group(1))
    if key is None:
        raise IngestAuthError(401, "Invalid, revoked or expired API key.")
    if ApiScope.INGEST not in key.scopes:
        raise IngestAuthError(403, "This API key lacks the ingest scope.")
    with tenancy.org_context(key.org_id):
        api_key_touch(api_key=key, ip=client_ip(request))
    return IngestKey(key_id=key.id, org_id=key.org_id)
