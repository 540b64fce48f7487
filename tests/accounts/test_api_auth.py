"""/v1/auth endpoints: session auth for scripts and browser clients, problem+json."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Membership, Role
from pulse import tenancy
from tests.clock import stop_rate_clocks
from tests.conftest import PASSWORD, Member

JSON = "application/json"


def _post(client: Client, name: str, body: dict[str, object], **extra: Any) -> Any:
    return client.post(reverse(name), json.dumps(body), content_type=JSON, **extra)


def test_signup_then_me_then_logout(live_db: None) -> None:
    client = Client()
    response = _post(
        client,
        "api_auth_signup",
        {"name": "Bo", "email": "bo@api.test", "password": PASSWORD, "org_name": "API Org"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["email"] == "bo@api.test"
    assert body["role"] == "owner" and body["org"]["name"] == "API Org"
    me = client.get(reverse("api_auth_me")).json()
    assert me["memberships"][0]["role"] == "owner"
    assert _post(client, "api_auth_logout", {}).status_code == 204
    assert client.get(reverse("api_auth_me")).status_code == 401


def test_signup_validation_errors_are_problem_json_with_fields(live_db: None) -> None:
    response = _post(Client(), "api_auth_signup", {"email": "not-an-email", "password": "1"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail", "instance", "request_id"} <= set(body)
    assert set(body["errors"]) >= {"email", "name", "org_name"}


def test_login_bad_credentials_are_401_the_same_for_unknown_email(owner: Member) -> None:
    known = _post(Client(), "api_auth_login", {"email": owner.user.email, "password": "nope"})
    unknown = _post(Client(), "api_auth_login", {"email": "ghost@x.test", "password": "nope"})
    assert known.status_code == unknown.status_code == 401
    strip = lambda r: {k: v for k, v in r.json().items() if k != "request_id"}  # noqa: E731
    assert strip(known) == strip(unknown)


def test_login_throttle_answers_429_with_retry_after(
    owner: Member, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop_rate_clocks(monkeypatch)  # no window ends between the three attempts
    settings.LOGIN_RATE_PER_IP = "2/m"
    client = Client()
    codes = [
        _post(client, "api_auth_login", {"email": owner.user.email, "password": "x"})
        for _ in range(3)
    ]
    assert [c.status_code for c in codes] == [401, 401, 429]
    assert int(codes[-1]["Retry-After"]) > 0
    assert codes[-1]["Content-Type"] == "application/problem+json"


def test_session_api_calls_need_csrf(owner: Member) -> None:
    client = Client(enforce_csrf_checks=True)
    response = _post(client, "api_auth_login", {"email": owner.user.email, "password": PASSWORD})
    assert response.status_code == 200
    response = _post(client, "api_auth_switch_org", {"org": str(owner.org.id)})
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    token = client.cookies["pulse_csrf"].value
    response = _post(
        client, "api_auth_switch_org", {"org": str(owner.org.id)}, HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 200


def test_switch_org_to_a_foreign_org_is_404(owner: Member, outsider: Member) -> None:
    client = Client()
    _post(client, "api_auth_login", {"email": owner.user.email, "password": PASSWORD})
    response = _post(client, "api_auth_switch_org", {"org": str(outsider.org.id)})
    assert response.status_code == 404
    with tenancy.org_context(outsider.org.id):
        Membership.objects.create(org=outsider.org, user=owner.user, role=Role.VIEWER)
    response = _post(client, "api_auth_switch_org", {"org": str(outsider.org.id)})
    assert response.status_code == 200
    assert response.json()["org"]["id"] == str(outsider.org.id)
    assert response.json()["role"] == "viewer"
