"""API keys: create (the full key is returned once), revoke, and look up by token.

A key reads ``pulse_<prefix>_<secret>``. We store the SHA-256 of the whole key and the
short public prefix (for recognition in lists and logs), never the key itself. Scopes
map to a role for the permission checks: ``write`` acts as an admin (never an owner),
``read`` as a viewer; ``ingest`` alone reaches only the ingest endpoints.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit import Actor, audit_record
from accounts.models import ApiKey, ApiScope, Role
from accounts.permissions import Perm, require

KEY_PREFIX = "pulse"
NAME_MAX = 120
MAX_TOKEN_LENGTH = 200
# last_used_at/ip is written at most this often per key: a busy key must not turn every
# read into a write.
LAST_USED_EVERY = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def role_for_scopes(scopes: Iterable[str]) -> str | None:
    """The role a key acts with: write → admin, read → viewer, ingest alone → none."""
    granted = set(scopes)
    if ApiScope.WRITE in granted:
        return Role.ADMIN
    if ApiScope.READ in granted:
        return Role.VIEWER
    return None


def _clean(name: str, scopes: Iterable[str], expires_at: datetime | None) -> tuple[str, list[str]]:
    errors: dict[str, list[str]] = {}
    clean_name = name.strip() if isinstance(name, str) else ""
    if not clean_name:
        errors["name"] = ["Give the key a name."]
    elif len(clean_name) > NAME_MAX:
        errors["name"] = [f"Keep the name under {NAME_MAX} characters."]
    chosen = list(dict.fromkeys(scopes or []))
    if not chosen:
        errors["scopes"] = ["Choose at least one scope."]
    elif any(scope not in ApiScope.values for scope in chosen):
        errors["scopes"] = ["Scopes are " + ", ".join(ApiScope.values) + "."]
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = ["The expiry must be in the future."]
    if errors:
        raise ValidationError(errors)
    order = {scope: i for i, scope in enumerate(ApiScope.values)}
    return clean_name, sorted(chosen, key=order.__getitem__)


def api_key_create(
    *,
    actor: Actor,
    role: str | None,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key in the current org. Returns the key row and the full key, which is
    shown once and never stored."""
    require(role, Perm.API_KEY_WRITE)
    clean_name, chosen = _clean(name, scopes, expires_at)
    for _attempt in range(5):
        prefix = secrets.token_hex(4)
        full_key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    name=clean_name,
                    prefix=prefix,
                    token_hash=token_hash(full_key),
                    scopes=chosen,
                    created_by=actor.user,
                    expires_at=expires_at,
                )
                audit_record(
                    actor=actor,
                    action="api_key.create",
                    org_id=key.org_id,
                    target=key,
                    changes={
                        "name": clean_name,
                        "prefix": prefix,
                        "scopes": chosen,
                        "expires_at": expires_at.isoformat() if expires_at else None,
                    },
                )
        except IntegrityError:
            # A 32-bit prefix may collide across all orgs' keys: draw another.
            continue
        return key, full_key
    raise RuntimeError("could not draw a unique API key prefix")


def api_key_revoke(*, actor: Actor, role: str | None, api_key: ApiKey) -> ApiKey:
    """Revoke a key at once. Revoking twice is a no-op, not an error."""
    require(role, Perm.API_KEY_WRITE)
    with transaction.atomic():
        changed = ApiKey.objects.filter(id=api_key.id, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if changed:
            audit_record(
                actor=actor, action="api_key.revoke", org_id=api_key.org_id, target=api_key
            )
    api_key.refresh_from_db()
    return api_key


def api_key_for_token(token: str) -> ApiKey | None:
    """The active key with this full token, in whichever org it belongs to, or None.

    The caller's org is unknown until the key is found, so the lookup crosses orgs
    (system alias); the token's hash is the secret."""
    if not token.startswith(f"{KEY_PREFIX}_") or len(token) > MAX_TOKEN_LENGTH:
        return None
    prefix = token[len(KEY_PREFIX) + 1 :].partition("_")[0]
    key = (
        ApiKey.all_orgs.select_related("org")
        .filter(token_hash=token_hash(token), prefix=prefix)
        .first()
    )
    if key is None or not key.is_active():
        return None
    return key


def api_key_touch(*, api_key: ApiKey, ip: str | None) -> None:
    """Record the key's last use, at most once a minute (a conditional update, so
    concurrent requests write once). Runs in the key's org context."""
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_EVERY:
        return
    ApiKey.objects.filter(id=api_key.id).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_EVERY)
    ).update(last_used_at=now, last_used_ip=ip)
