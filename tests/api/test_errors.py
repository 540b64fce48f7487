"""Every /v1 error leaves as RFC 9457 problem+json: 400, 401, 403, 404, 405, 406, 413,
415, 429 and 500, with the request id (SPEC §9)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.test import Client

from monitors import selectors
from tests.api.conftest import Api, Seeded, assert_problem, key_api
from tests.clock import stop_rate_clocks
from tests.conftest import Member

NEW_MONITOR = {"name": "Site", "type": "http", "target": "https://www.example.com/"}


def test_no_credentials_is_401(live_db: None) -> None:
    body = assert_problem(Client().get("/v1/monitors"), 401)
    assert body["instance"] == "/v1/monitors" and body["request_id"]


def test_a_session_without_an_org_is_403(owner: Member) -> None:
    from accounts.models import User
    from tests.conftest import PASSWORD

    User.objects.create_user(email="loner@x.test", password=PASSWORD)
    client = Client()
    client.post("/login", {"email": "loner@x.test", "password": PASSWORD})
    assert_problem(client.get("/v1/monitors"), 403)


def test_validation_errors_are_400_keyed_by_field(api: Api) -> None:
    response = api.post("v1-monitors-list", body={"name": "", "type": "http", "target": "nope"})
    body = assert_problem(response, 400)
    assert set(body["errors"]) == {"name"}  # the serializer's turn: blank name
    response = api.post(
        "v1-monitors-list",
        body={**NEW_MONITOR, "target": "ftp://x", "config": {"method": "BREW", "verify_tls": 1}},
    )
    body = assert_problem(response, 400)
    assert set(body["errors"]) == {"target", "config.method", "config.verify_tls"}
    assert body["detail"] == "The request has invalid fields."


def test_malformed_json_and_nul_characters_are_400(api: Api) -> None:
    response = api.client.post(
        "/v1/monitors", "{nope", content_type="application/json", **api.headers
    )
    assert_problem(response, 400)
    response = api.post("v1-monitors-list", body={**NEW_MONITOR, "config": {"body": "a\x00b"}})
    assert_problem(response, 400)
    response = api.get("v1-monitors-list", query={"search": "a\x00b"})
    assert set(assert_problem(response, 400)["errors"]) == {"search"}


def test_unknown_and_malformed_ids_are_404(api: Api) -> None:
    assert_problem(api.get("v1-monitors-detail", uuid.uuid4()), 404)
    assert_problem(api.client.get("/v1/monitors/not-a-uuid", **api.headers), 404)
    assert_problem(api.get("v1-monitors-list", query={"cursor": "garbage"}), 404)


def test_a_method_the_resource_lacks_is_405(api: Api, alpha: Seeded) -> None:
    response = api.put("v1-maintenance-windows-detail", alpha.window.id, body={"name": "x"})
    body = assert_problem(response, 405)
    assert "PUT" in body["detail"]
    assert_problem(api.delete("v1-incidents-detail", alpha.incident.id), 405)


def test_an_unacceptable_accept_header_is_406(api: Api) -> None:
    response = api.get("v1-monitors-list", HTTP_ACCEPT="text/html")
    assert_problem(response, 406)
    response = api.post("v1-monitors-list", body=NEW_MONITOR, HTTP_ACCEPT="application/xml")
    assert_problem(response, 406)


def test_a_body_over_the_limit_is_413(api: Api, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    big = {**NEW_MONITOR, "config": {"body": "x" * 2000}}
    assert_problem(api.post("v1-monitors-list", body=big), 413)


def test_a_body_that_is_not_json_is_415(api: Api) -> None:
    response = api.client.post("/v1/monitors", "name=x", content_type="text/plain", **api.headers)
    body = assert_problem(response, 415)
    assert "text/plain" in body["detail"]
    response = api.client.post("/v1/monitors", {"name": "x"}, **api.headers)  # multipart form
    assert_problem(response, 415)


def test_the_rate_limit_is_per_org_and_ip_with_retry_after(
    owner: Member, outsider: Member, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop_rate_clocks(monkeypatch)  # no window ends between the requests
    settings.API_RATE = "3/m"
    api = key_api(owner)
    codes = [api.get("v1-monitors-list").status_code for _ in range(3)]
    response = api.get("v1-monitors-list")
    assert codes == [200, 200, 200]
    assert_problem(response, 429)
    assert 1 <= int(response["Retry-After"]) <= 60
    # Another client address, or another org from the same address, has its own budget.
    assert api.get("v1-monitors-list", REMOTE_ADDR="198.51.100.1").status_code == 200
    assert key_api(outsider).get("v1-monitors-list").status_code == 200


def test_the_rate_setting_is_checked_loudly() -> None:
    from pulse.api_throttle import parse_rate

    assert parse_rate("600/m") == (600, 60)
    assert parse_rate("10/second") == (10, 1)
    with pytest.raises(ValueError, match="API_RATE"):
        parse_rate("lots")


def test_an_unexpected_error_is_a_500_problem(api: Api, monkeypatch: Any) -> None:
    def boom(**kwargs: Any) -> Any:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(selectors, "monitor_list", boom)
    body = assert_problem(api.get("v1-monitors-list"), 500)
    assert "kaboom" not in json.dumps(body)


def test_session_writes_need_the_csrf_token(owner: Member) -> None:
    client = Client(enforce_csrf_checks=True)
    client.post(
        "/v1/auth/login",
        json.dumps({"email": owner.user.email, "password": "correct-horse-battery-staple"}),
        content_type="application/json",
    )
    response = client.post("/v1/monitors", json.dumps(NEW_MONITOR), content_type="application/json")
    assert_problem(response, 403)
    token = client.cookies["pulse_csrf"].value
    response = client.post(
        "/v1/monitors",
        json.dumps(NEW_MONITOR),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 201
