"""API keys: shown once, stored hashed, prefixed, scoped, expirable, revocable, and
their last use recorded (SPEC §8); the /v1/api-keys endpoints."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.db import connections
from django.test import Client
from django.utils import timezone

from accounts.models import ApiKey, AuditLog
from pulse import tenancy
from tests.api.conftest import Api, assert_problem, key_api, make_key, session_api
from tests.conftest import Member


def _bearer(key: str) -> Api:
    return Api(Client(), {"HTTP_AUTHORIZATION": f"Bearer {key}"})


def _stored(member: Member) -> list[ApiKey]:
    with tenancy.org_context(member.org.id):
        return list(ApiKey.objects.order_by("created_at"))


def test_a_created_key_is_shown_once_and_stored_only_as_a_hash(owner: Member) -> None:
    api = session_api(owner)
    response = api.post(
        "v1-api-keys-list", body={"name": "Deploy bot", "scopes": ["write", "read"]}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    key = body["key"]
    assert key.startswith(f"pulse_{body['prefix']}_") and len(key) > 40
    assert body["scopes"] == ["read", "write"] and body["active"] is True
    # Never again: not in the list, not in the detail.
    listed = api.get("v1-api-keys-list").json()["results"]
    assert [k["prefix"] for k in listed] == [body["prefix"]]
    assert all("key" not in k for k in listed)
    assert "key" not in api.get("v1-api-keys-detail", body["id"]).json()
    # Not in any column of any row, not in the audit log.
    secret = key.split("_", 2)[2]
    with connections["system"].cursor() as cursor:
        cursor.execute("SELECT row_to_json(k)::text FROM api_keys k")
        rows = [r[0] for r in cursor.fetchall()]
        cursor.execute("SELECT row_to_json(a)::text FROM audit_logs a")
        audit = [r[0] for r in cursor.fetchall()]
    assert rows and not any(secret in r or key in r for r in rows + audit)
    (stored,) = _stored(owner)
    assert stored.token_hash == hashlib.sha256(key.encode()).hexdigest()
    assert any('"api_key.create"' in a for a in audit)


def test_the_new_key_authenticates_and_acts_in_its_org(owner: Member) -> None:
    key = (
        session_api(owner)
        .post("v1-api-keys-list", body={"name": "k", "scopes": ["read"]})
        .json()["key"]
    )
    response = _bearer(key).get("v1-monitors-list")
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_key_validation_errors_are_field_level(owner: Member) -> None:
    api = key_api(owner)
    response = api.post(
        "v1-api-keys-list",
        body={"name": "", "scopes": ["root"], "expires_at": "2001-01-01T00:00:00Z"},
    )
    body = assert_problem(response, 400)
    assert set(body["errors"]) == {"name", "scopes"}
    response = api.post(
        "v1-api-keys-list", body={"name": "x", "scopes": [], "expires_at": "2001-01-01T00:00Z"}
    )
    assert set(assert_problem(response, 400)["errors"]) == {"scopes"}
    response = api.post(
        "v1-api-keys-list",
        body={"name": "x", "scopes": ["read"], "expires_at": "2001-01-01T00:00Z"},
    )
    assert set(assert_problem(response, 400)["errors"]) == {"expires_at"}


def test_a_read_key_cannot_write(owner: Member) -> None:
    api = _bearer(make_key(owner, ["read"]))
    assert api.get("v1-monitors-list").status_code == 200
    response = api.post(
        "v1-monitors-list", body={"name": "x", "type": "http", "target": "https://x.example"}
    )
    assert_problem(response, 403)
    assert_problem(api.post("v1-api-keys-list", body={"name": "x", "scopes": ["read"]}), 403)
    assert_problem(api.get("v1-api-keys-list"), 403)


def test_a_write_key_acts_as_an_admin_never_an_owner(owner: Member, viewer: Member) -> None:
    api = _bearer(make_key(owner, ["write"]))
    members = api.get("v1-members-list").json()["results"]
    owner_row = next(m for m in members if m["role"] == "owner")
    viewer_row = next(m for m in members if m["role"] == "viewer")
    assert_problem(api.patch("v1-members-detail", owner_row["id"], body={"role": "admin"}), 403)
    assert_problem(api.patch("v1-members-detail", viewer_row["id"], body={"role": "owner"}), 403)
    response = api.patch("v1-members-detail", viewer_row["id"], body={"role": "operator"})
    assert response.status_code == 200 and response.json()["role"] == "operator"


def test_an_ingest_key_reaches_only_the_ingest_endpoints(owner: Member) -> None:
    key = make_key(owner, ["ingest"])
    api = _bearer(key)
    assert_problem(api.get("v1-monitors-list"), 403)
    assert_problem(api.get("v1-incidents-list"), 403)
    response = api.post(
        "ingest_metrics", body={"host": "web-1", "samples": [{"name": "cpu.usage", "value": 3}]}
    )
    assert response.status_code == 202, response.content
    # And a read key is no ingest key.
    response = _bearer(make_key(owner, ["read"])).post(
        "ingest_metrics", body={"host": "web-1", "samples": [{"name": "cpu.usage", "value": 3}]}
    )
    assert response.status_code == 403


def test_the_ingest_key_permission_checks_the_scope(owner: Member) -> None:
    from rest_framework.test import APIRequestFactory

    from pulse.api_auth import IngestKey

    with tenancy.org_context(owner.org.id):
        make_key(owner, ["ingest"], name="i")
        make_key(owner, ["read", "write"], name="rw")
        keys = {k.name: k for k in ApiKey.objects.all()}
    request = APIRequestFactory().get("/")
    request.auth = keys["i"]
    assert IngestKey().has_permission(request, None)  # type: ignore[arg-type]
    request.auth = keys["rw"]
    assert not IngestKey().has_permission(request, None)  # type: ignore[arg-type]


def test_expired_revoked_unknown_and_malformed_keys_are_401(owner: Member) -> None:
    expired = make_key(owner, ["read"], name="old", expires_at=timezone.now() + timedelta(hours=1))
    revoked = make_key(owner, ["read"], name="gone")
    assert _bearer(expired).get("v1-monitors-list").status_code == 200
    with tenancy.org_context(owner.org.id):
        ApiKey.objects.filter(name="old").update(expires_at=timezone.now() - timedelta(seconds=1))
    body = assert_problem(_bearer(expired).get("v1-monitors-list"), 401)
    assert "expired" in body["detail"]
    admin = key_api(owner)
    gone = next(k for k in admin.get("v1-api-keys-list").json()["results"] if k["name"] == "gone")
    response = admin.post("v1-api-keys-revoke", gone["id"])
    assert response.status_code == 200 and response.json()["revoked_at"]
    assert response.json()["active"] is False
    response = _bearer(revoked).get("v1-monitors-list")
    assert_problem(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="pulse"'
    for token in [revoked[:-2] + "xx", "pulse_nope", "not-a-key", "a b"]:
        assert_problem(_bearer(token).get("v1-monitors-list"), 401)
    # Revoking twice is fine; the audit log has one entry.
    assert admin.post("v1-api-keys-revoke", gone["id"]).status_code == 200
    with tenancy.org_context(owner.org.id):
        assert AuditLog.objects.filter(action="api_key.revoke").count() == 1


def test_last_use_is_recorded_at_most_once_a_minute(owner: Member) -> None:
    key = make_key(owner, ["read"])
    api = _bearer(key)
    (stored,) = _stored(owner)
    assert stored.last_used_at is None
    api.get("v1-monitors-list", REMOTE_ADDR="203.0.113.7")
    (first,) = _stored(owner)
    assert first.last_used_at is not None and first.last_used_ip == "203.0.113.7"
    api.get("v1-monitors-list", REMOTE_ADDR="203.0.113.8")
    (second,) = _stored(owner)
    assert second.last_used_at == first.last_used_at and second.last_used_ip == "203.0.113.7"
    an_hour_ago = timezone.now() - timedelta(hours=1)
    with tenancy.org_context(owner.org.id):
        ApiKey.objects.update(last_used_at=an_hour_ago)
    api.get("v1-monitors-list", REMOTE_ADDR="203.0.113.9")
    (third,) = _stored(owner)
    assert third.last_used_at is not None and first.last_used_at is not None
    assert third.last_used_at > first.last_used_at and third.last_used_ip == "203.0.113.9"


def test_api_keys_are_admin_only(owner: Member, operator: Member, viewer: Member) -> None:
    for member in (operator, viewer):
        api = session_api(member)
        assert_problem(api.get("v1-api-keys-list"), 403)
        assert_problem(api.post("v1-api-keys-list", body={"name": "x", "scopes": ["read"]}), 403)


def test_an_api_key_write_is_audited_with_the_key_as_actor(owner: Member) -> None:
    api = _bearer(make_key(owner, ["write"], name="robot"))
    response = api.post(
        "v1-monitors-list", body={"name": "Site", "type": "http", "target": "https://x.example"}
    )
    assert response.status_code == 201
    with tenancy.org_context(owner.org.id):
        entry = AuditLog.objects.get(action="monitor.create")
        robot = ApiKey.objects.get(name="robot")
    assert entry.actor_api_key_id == robot.id and entry.actor_user_id is None
    assert entry.actor_label.startswith("api-key:robot")
