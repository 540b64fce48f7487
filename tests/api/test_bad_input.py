"""Bad input is the client's 4xx, never a 500 (issue 10, item 6): lone surrogates,
deep nesting, NUL, unknown fields, secrets cached, spoofed client addresses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory, override_settings

from accounts.models import ApiKey, Invitation
from monitors.models import Monitor
from notifications.models import Channel
from pulse import tenancy
from pulse.lib.env import env_networks
from pulse.middleware import client_ip
from tests.api.conftest import Api, Seeded, assert_problem, key_api, make_key
from tests.conftest import PASSWORD, Member

NEW_MONITOR = {"name": "Site", "type": "http", "target": "https://www.example.com/"}
LONE = '"\\ud800"'  # as a client writes it: JSON escapes, valid UTF-8 on the wire


def raw(api: Api, method: str, path: str, body: str | bytes, **extra: Any) -> Any:
    send = getattr(api.client, method.lower())
    return send(path, body, content_type="application/json", **{**api.headers, **extra})


# ---------------------------------------------------------------- lone surrogates


def test_a_lone_surrogate_is_a_field_error_on_channels_invitations_and_members(
    api: Api, alpha: Seeded
) -> None:
    response = raw(api, "POST", "/v1/channels", f'{{"name": "Hook", "kind": {LONE}}}')
    assert assert_problem(response, 400)["errors"] == {
        "kind": ["Text may not contain unpaired UTF-16 surrogates (\\ud800-\\udfff)."]
    }
    response = raw(api, "POST", "/v1/invitations", f'{{"email": "a@b.test", "role": {LONE}}}')
    assert set(assert_problem(response, 400)["errors"]) == {"role"}
    member = f"/v1/members/{alpha.member.membership.id}"
    response = raw(api, "PATCH", member, f'{{"role": {LONE}}}')
    assert set(assert_problem(response, 400)["errors"]) == {"role"}
    with tenancy.org_context(alpha.member.org.id):
        assert Channel.objects.count() == 1 and Invitation.objects.count() == 1


def test_surrogates_are_named_by_their_path_also_in_keys(api: Api) -> None:
    body = '{"name": "S", "type": "http", "target": "https://e.test/", "config": {"headers": '
    body += '{"X-A": "ok\\udfff"}}, "tags": ["a", "\\udc00b"], "\\ud83d": 1}'
    errors = assert_problem(raw(api, "POST", "/v1/monitors", body), 400)["errors"]
    assert set(errors) == {"config.headers.X-A", "tags[1]", "\ufffd"}
    assert errors["\ufffd"][0].startswith("Field name:")
    # A correctly paired surrogate escape is just a character.
    ok = raw(api, "POST", "/v1/monitors", '{"name": "\\ud83d\\ude00", "type": "push"}')
    assert ok.status_code == 201 and ok.json()["name"] == "\U0001f600"


def test_in_debug_a_surrogate_is_still_a_400_and_no_connection_is_left_behind(
    api: Api, settings: Any
) -> None:
    settings.DEBUG = True
    for _ in range(10):
        response = raw(api, "POST", "/v1/channels", f'{{"name": "Hook", "kind": {LONE}}}')
        assert_problem(response, 400)
    # The leak showed as key-authenticated requests hanging, then failing.
    assert api.get("v1-channels-list").status_code == 200


# ---------------------------------------------------------------- nesting


@pytest.mark.parametrize("depth", [33, 600, 100_000])
def test_deep_nesting_is_a_400_on_every_json_endpoint(api: Api, owner: Member, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    body = f'{{"email": "a@b.test", "password": {nested}}}'
    response = Client().post("/v1/auth/login", body, content_type="application/json")
    assert "nested deeper than 32" in assert_problem(response, 400)["detail"]
    response = raw(api, "POST", "/v1/monitors", f'{{"name": "x", "config": {nested}}}')
    assert_problem(response, 400)
    ingest = key_api(owner, ["ingest"])
    response = raw(ingest, "POST", "/v1/ingest/metrics", nested)
    assert_problem(response, 400)


def test_nesting_up_to_the_limit_reaches_the_serializer(api: Api) -> None:
    nested = "[" * 30 + "]" * 30
    response = raw(
        api, "POST", "/v1/monitors", f'{{"name": "x", "type": "http", "tags": {nested}}}'
    )
    assert set(assert_problem(response, 400)["errors"]) >= {"tags"}


# ---------------------------------------------------------------- NUL and numbers


def test_nul_is_a_field_error_naming_the_field(api: Api, owner: Member) -> None:
    body = {**NEW_MONITOR, "name": "a\x00b", "config": {"body": "a\x00b"}}
    errors = assert_problem(api.post("v1-monitors-list", body=body), 400)["errors"]
    assert errors == {
        "name": ["Text may not contain NUL characters (\\u0000)."],
        "config.body": ["Text may not contain NUL characters (\\u0000)."],
    }
    response = Client().post(
        "/v1/auth/login",
        json.dumps({"email": "a\x00@b.test", "password": "x"}),
        content_type="application/json",
    )
    assert set(assert_problem(response, 400)["errors"]) == {"email"}
    ingest = key_api(owner, ["ingest"])
    metrics = {"host": "web-1", "samples": [{"name": "cpu", "value": 1, "labels": {"a": "\x00"}}]}
    response = ingest.post("ingest_metrics", body=metrics)
    assert set(assert_problem(response, 400)["errors"]) == {"samples[0].labels.a"}


def test_numbers_json_cannot_hold_are_refused(api: Api) -> None:
    response = raw(api, "POST", "/v1/monitors", '{"name": "x", "type": "push", "config": 1e400}')
    assert assert_problem(response, 400)["errors"] == {"config": ["Value must be a finite number"]}
    response = raw(api, "POST", "/v1/monitors", '{"name": NaN}')
    assert "not valid JSON" in assert_problem(response, 400)["detail"]
    response = raw(api, "POST", "/v1/monitors", '{"name": ' + "9" * 5000 + "}")
    assert "not valid JSON" in assert_problem(response, 400)["detail"]
    response = raw(api, "POST", "/v1/monitors", b'{"name": "\xff"}')
    assert "not UTF-8" in assert_problem(response, 400)["detail"]


def test_the_latency_bound_holds_on_the_api(api: Api) -> None:
    for latency in (60_001, 2_147_483_648):
        body = {**NEW_MONITOR, "latency_degraded_ms": latency}
        errors = assert_problem(api.post("v1-monitors-list", body=body), 400)["errors"]
        assert set(errors) == {"latency_degraded_ms"}
    assert not Monitor.all_orgs.exists()


# ---------------------------------------------------------------- unknown fields


def test_unknown_fields_are_refused_not_dropped(api: Api) -> None:
    body = {**NEW_MONITOR, "regions": ["eu-west"], "depends_on": ["db"]}
    errors = assert_problem(api.post("v1-monitors-list", body=body), 400)["errors"]
    assert errors == {"regions": ["Read-only: leave it out."], "depends_on": ["Unknown field."]}
    assert not Monitor.all_orgs.exists()
    # Other errors are reported in the same answer.
    errors = assert_problem(api.post("v1-monitors-list", body={"nmae": "x"}), 400)["errors"]
    assert set(errors) == {"nmae", "name", "type"}


def test_every_write_refuses_unknown_fields(api: Api, alpha: Seeded, owner: Member) -> None:
    extra = {"surprise": 1}
    calls: list[tuple[str, str, tuple[Any, ...], dict[str, Any]]] = [
        ("POST", "v1-channels-list", (), {"name": "H", "kind": "email"}),
        ("PATCH", "v1-channels-detail", (alpha.channel.id,), {}),
        ("POST", "v1-alert-rules-list", (), {"name": "R", "events": ["down"], "channels": []}),
        ("PUT", "v1-alert-rules-detail", (alpha.rule.id,), {"name": "R", "events": ["down"]}),
        ("POST", "v1-maintenance-windows-list", (), {"name": "W"}),
        ("POST", "v1-api-keys-list", (), {"name": "K", "scopes": ["read"]}),
        ("POST", "v1-invitations-list", (), {"email": "x@y.test"}),
        ("PATCH", "v1-members-detail", (alpha.member.membership.id,), {"role": "owner"}),
        ("POST", "v1-incidents-notes", (alpha.incident.id,), {"text": "hi"}),
        ("POST", "v1-incidents-resolve", (alpha.incident.id,), {}),
        # Operations without a body refuse one rather than ignore it.
        ("POST", "v1-monitors-pause", (alpha.http.id,), {}),
        ("POST", "v1-incidents-acknowledge", (alpha.incident.id,), {}),
        ("POST", "v1-api-keys-revoke", (alpha.api_key.id,), {}),
        ("DELETE", "v1-monitors-detail", (alpha.push.id,), {}),
    ]
    for method, name, args, body in calls:
        response = api.call(method, name, *args, body={**body, **extra})
        assert assert_problem(response, 400)["errors"].get("surprise"), (name, response.json())
    # Nothing happened.
    with tenancy.org_context(owner.org.id):
        alpha.http.refresh_from_db()
        alpha.incident.refresh_from_db()
        assert not alpha.http.paused and alpha.incident.status == "open"
        assert Monitor.objects.filter(id=alpha.push.id).exists()
        assert ApiKey.objects.get(id=alpha.api_key.id).revoked_at is None
    session = owner.client()
    auth_calls: list[tuple[str, dict[str, Any]]] = [
        ("/v1/auth/login", {"email": owner.user.email, "password": PASSWORD, "remember": 1}),
        ("/v1/auth/signup", {"name": "N", "email": "n@x.test", "password": PASSWORD * 2,
                             "org_name": "O", "plan": "pro"}),
        ("/v1/auth/switch-org", {"org": str(owner.org.id), "x": 1}),
        ("/v1/auth/logout", {"everywhere": True}),
    ]  # fmt: skip
    for path, sent in auth_calls:
        response = session.post(path, json.dumps(sent), content_type="application/json")
        assert_problem(response, 400)
    assert session.get("/v1/auth/me").status_code == 200  # the logout did not happen


def test_read_only_fields_echoed_unchanged_are_accepted(api: Api, alpha: Seeded) -> None:
    shown = api.get("v1-monitors-detail", alpha.http.id).json()
    response = api.put("v1-monitors-detail", alpha.http.id, body={**shown, "name": "Renamed"})
    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "Renamed"
    # State the checks change by themselves may be stale in the echo.
    stale = {**shown, "status": "down", "last_check_at": None, "name": "Again"}
    assert api.put("v1-monitors-detail", alpha.http.id, body=stale).status_code == 200
    # A read-only setting sent with another value would be silently ignored: refused.
    changed = {**shown, "regions": ["eu-west"]}
    errors = assert_problem(api.put("v1-monitors-detail", alpha.http.id, body=changed), 400)
    assert errors["errors"] == {"regions": ["Read-only: send it unchanged or leave it out."]}
    channel = api.get("v1-channels-detail", alpha.channel.id).json()
    response = api.patch("v1-channels-detail", alpha.channel.id, body=channel)
    assert response.status_code == 200, response.json()
    response = api.patch("v1-channels-detail", alpha.channel.id, body={"id": str(alpha.http.id)})
    assert set(assert_problem(response, 400)["errors"]) == {"id"}


# ---------------------------------------------------------------- secrets not cached


def test_answers_carrying_secrets_are_never_stored(api: Api, alpha: Seeded, owner: Member) -> None:
    response = api.post("v1-api-keys-list", body={"name": "deploy", "scopes": ["read"]})
    assert response.status_code == 201 and response.json()["key"].startswith("pulse_")
    assert "no-store" in response["Cache-Control"]
    # A push monitor's heartbeat URL holds its token; errors and lists too.
    response = api.get("v1-monitors-detail", alpha.push.id)
    assert response.json()["heartbeat_url"] and "no-store" in response["Cache-Control"]
    assert "no-store" in api.post("v1-monitors-list", body={})["Cache-Control"]
    login = Client().post(
        "/v1/auth/login",
        json.dumps({"email": owner.user.email, "password": PASSWORD}),
        content_type="application/json",
    )
    assert login.status_code == 200 and "no-store" in login["Cache-Control"]


# ---------------------------------------------------------------- client address


def _request(remote: str, **headers: Any) -> Any:
    return RequestFactory().get("/", REMOTE_ADDR=remote, **headers)


def test_forwarded_headers_count_only_from_trusted_proxies() -> None:
    with override_settings(TRUSTED_PROXIES=["127.0.0.0/8", "::1/128", "10.1.0.0/16"]):
        # Straight from the internet: the client's own header is ignored.
        assert client_ip(_request("203.0.113.9", HTTP_X_REAL_IP="198.51.100.1")) == "203.0.113.9"
        spoof = _request("203.0.113.9", HTTP_X_FORWARDED_FOR="198.51.100.1")
        assert client_ip(spoof) == "203.0.113.9"
        # Through our nginx (loopback or a configured network): its header names the client.
        assert client_ip(_request("127.0.0.1", HTTP_X_REAL_IP="198.51.100.1")) == "198.51.100.1"
        assert client_ip(_request("::1", HTTP_X_REAL_IP="2001:db8::7")) == "2001:db8::7"
        # X-Forwarded-For: the right-most address that is not one of our proxies; what a
        # client prepends to the chain is ignored.
        chain = _request("10.1.2.3", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.1, 10.1.9.9")
        assert client_ip(chain) == "198.51.100.1"
        # Garbage from a trusted proxy is not an address: fall back to the peer.
        assert client_ip(_request("127.0.0.1", HTTP_X_REAL_IP="'; DROP")) == "127.0.0.1"
        assert client_ip(_request("127.0.0.1", HTTP_X_FORWARDED_FOR="nope")) == "127.0.0.1"


def test_a_spoofed_x_real_ip_gets_no_fresh_rate_limit(owner: Member, settings: Any) -> None:
    settings.API_RATE = "2/m"
    api = key_api(owner)
    for n in range(2):
        ok = api.get("v1-monitors-list", REMOTE_ADDR="203.0.113.9", HTTP_X_REAL_IP=f"1.2.3.{n}")
        assert ok.status_code == 200
    spoofed = api.get("v1-monitors-list", REMOTE_ADDR="203.0.113.9", HTTP_X_REAL_IP="1.2.3.99")
    assert_problem(spoofed, 429)
    # Through the proxy, clients are told apart by the header it sets.
    proxied = api.get("v1-monitors-list", REMOTE_ADDR="127.0.0.1", HTTP_X_REAL_IP="1.2.3.99")
    assert proxied.status_code == 200


def test_the_login_limit_per_ip_ignores_a_spoofed_header(owner: Member, settings: Any) -> None:
    settings.LOGIN_RATE_PER_IP = "2/m"
    settings.LOGIN_RATE_PER_ACCOUNT = "100/m"
    codes = []
    for n in range(3):
        response = Client().post(
            "/v1/auth/login",
            json.dumps({"email": f"nobody{n}@x.test", "password": "wrong"}),
            content_type="application/json",
            REMOTE_ADDR="203.0.113.9",
            HTTP_X_REAL_IP=f"1.2.3.{n}",
        )
        codes.append(response.status_code)
    assert codes == [401, 401, 429]


def test_the_trusted_proxies_setting_fails_loudly(monkeypatch: Any) -> None:
    monkeypatch.setenv("PULSE_TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16")
    assert env_networks("PULSE_TRUSTED_PROXIES", []) == ["10.0.0.1/32", "192.168.0.0/16"]
    monkeypatch.setenv("PULSE_TRUSTED_PROXIES", "nginx")
    with pytest.raises(ImproperlyConfigured, match="PULSE_TRUSTED_PROXIES"):
        env_networks("PULSE_TRUSTED_PROXIES", [])


def test_a_forged_address_never_reaches_an_inet_column(owner: Member) -> None:
    key = make_key(owner, ["read"])
    response = Client().get(
        "/v1/monitors",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_REAL_IP="not-an-ip",
    )
    assert response.status_code == 200
    with tenancy.org_context(owner.org.id):
        assert ApiKey.objects.get(name="test key").last_used_ip == "127.0.0.1"
