"""Screen 14, API keys: create (the full key shown once, never again; only its hash in
the database), the key works on the API, revoke with confirmation; admins and above
only; another org's key is a 404."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from django.db import connections
from django.urls import reverse
from django.utils import timezone

from accounts.api_keys import api_key_create
from accounts.audit import Actor
from accounts.models import ApiKey, AuditLog, Role
from pulse import tenancy
from pulse.db import OWNER_DB
from tests.conftest import Member
from tests.web_admin.conftest import html_of

KEY = re.compile(r"pulse_[0-9a-f]{8}_[A-Za-z0-9_-]{20,}")


def keys_of(member: Member) -> list[ApiKey]:
    return list(ApiKey.all_orgs.filter(org_id=member.org.id))


def make_key(member: Member, name: str = "CI", scopes: tuple[str, ...] = ("read",)) -> ApiKey:
    with tenancy.org_context(member.org.id, user_id=member.user.id):
        key, _full = api_key_create(
            actor=Actor(user=member.user), role=Role.OWNER, name=name, scopes=scopes
        )
    return key


def database_holds(text: str) -> bool:
    """Whether ``text`` is anywhere in the tables that could keep it (keys, audit,
    sessions), read as the owner role so row security hides nothing."""
    with connections[OWNER_DB].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM api_keys k WHERE k::text LIKE %s", [f"%{text}%"])
        keys = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM audit_logs a WHERE a::text LIKE %s", [f"%{text}%"])
        audit = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM sessions s WHERE s::text LIKE %s", [f"%{text}%"])
        sessions = cursor.fetchone()[0]
    return bool(keys or audit or sessions)


def test_a_new_key_is_shown_once_and_only_its_hash_is_stored(owner: Member) -> None:
    client = owner.client()
    expires = (timezone.now() + timedelta(days=30)).date()
    response = client.post(
        reverse("accounts:api_key_create"),
        {"name": "Terraform CI", "scopes": ["read", "write"], "expires_on": expires.isoformat()},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    [full_key] = set(KEY.findall(html))
    assert "shown only once" in html and 'data-copy="new-api-key"' in html
    [key] = keys_of(owner)
    assert key.name == "Terraform CI" and key.scopes == ["read", "write"]
    assert key.token_hash == hashlib.sha256(full_key.encode()).hexdigest()
    assert full_key.startswith(f"pulse_{key.prefix}_")
    assert key.expires_at is not None and key.expires_at.date() == expires
    assert not database_holds(full_key.rsplit("_", 1)[1])
    # The second view of the keys page (or any page) never shows it again.
    again = html_of(client, reverse("accounts:api_keys"))
    assert full_key not in again and KEY.search(again) is None
    assert f"pulse_{key.prefix}_…" in again and "Terraform CI" in again
    # The key works on the API.
    api = client.__class__().get("/v1/monitors", HTTP_AUTHORIZATION=f"Bearer {full_key}")
    assert api.status_code == 200
    assert AuditLog.all_orgs.filter(action="api_key.create", target_id=str(key.id)).exists()


def test_the_list_shows_state_scopes_and_usage(owner: Member) -> None:
    used = make_key(owner, "Metrics agent", ("ingest",))
    ApiKey.all_orgs.filter(id=used.id).update(
        last_used_at=timezone.now() - timedelta(hours=2), last_used_ip="203.0.113.9"
    )
    old = make_key(owner, "Old script")
    ApiKey.all_orgs.filter(id=old.id).update(revoked_at=timezone.now())
    expired = make_key(owner, "Expired one")
    ApiKey.all_orgs.filter(id=expired.id).update(expires_at=timezone.now() - timedelta(days=1))
    html = html_of(owner.client(), reverse("accounts:api_keys"))
    for text in (
        "Metrics agent",
        "ingest",
        "203.0.113.9",
        "Revoked",
        "Expired",
        "Active",
        'Keys <span class="muted">· 3</span>',
    ):
        assert text in html, text
    # Revoked keys offer no revoke button.
    assert reverse("accounts:api_key_revoke", args=[old.id]) not in html
    assert reverse("accounts:api_key_revoke", args=[used.id]) in html


def test_errors_show_on_their_inputs_and_nothing_is_created(owner: Member) -> None:
    client = owner.client()
    response = client.post(
        reverse("accounts:api_key_create"),
        {"name": "", "scopes": [], "expires_on": "2001-01-01"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_name_error"' in html and 'id="id_scopes_error"' in html
    past = client.post(
        reverse("accounts:api_key_create"),
        {"name": "Late", "scopes": ["read"], "expires_on": "2001-01-01"},
    )
    assert re.search(
        r'id="id_expires_on_error".*?must be in the future', past.content.decode(), re.S
    )
    assert keys_of(owner) == []
    assert client.get(reverse("accounts:api_key_create")).status_code == 302


def test_owner_revokes_a_key(owner: Member) -> None:
    key = make_key(owner, "CI")
    client = owner.client()
    html = html_of(client, reverse("accounts:api_keys"))
    assert f'data-confirm="Revoke CI (pulse_{key.prefix}_…)?' in html
    response = client.post(reverse("accounts:api_key_revoke", args=[key.id]))
    assert response.status_code == 302 and response["Location"] == reverse("accounts:api_keys")
    assert ApiKey.all_orgs.get(id=key.id).revoked_at is not None
    assert "Revoked CI" in html_of(client, reverse("accounts:api_keys"))


def test_viewers_and_operators_are_refused(owner: Member, viewer: Member, operator: Member) -> None:
    key = make_key(owner, "CI")
    for member in (viewer, operator):
        client = member.client()
        assert client.get(reverse("accounts:api_keys")).status_code == 403
        created = client.post(
            reverse("accounts:api_key_create"), {"name": "x", "scopes": ["write"]}
        )
        assert created.status_code == 403
        assert client.post(reverse("accounts:api_key_revoke", args=[key.id])).status_code == 403
        # Neither the nav nor the settings tabs offer the page.
        team = html_of(client, reverse("accounts:team"))
        assert reverse("accounts:api_keys") not in team
    assert [k.name for k in keys_of(owner)] == ["CI"]
    assert ApiKey.all_orgs.get(id=key.id).revoked_at is None


def test_an_admin_may_manage_keys(owner: Member, admin_member: Member) -> None:
    client = admin_member.client()
    assert reverse("accounts:api_keys") in html_of(client, reverse("accounts:team"))
    response = client.post(
        reverse("accounts:api_key_create"), {"name": "Admin key", "scopes": ["read"]}
    )
    assert response.status_code == 200 and KEY.search(response.content.decode())


def test_another_orgs_key_is_not_found(owner: Member, outsider: Member) -> None:
    key = make_key(owner, "Alpha CI")
    client = outsider.client()
    assert client.post(reverse("accounts:api_key_revoke", args=[key.id])).status_code == 404
    assert "Alpha CI" not in html_of(client, reverse("accounts:api_keys"))
    assert ApiKey.all_orgs.get(id=key.id).revoked_at is None
