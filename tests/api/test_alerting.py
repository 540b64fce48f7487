"""/v1/alert-rules (CRUD) and /v1/maintenance-windows (list, create, get, delete)."""

from __future__ import annotations

import uuid

from alerting.models import AlertRule, MaintenanceWindow
from pulse import tenancy
from tests.api.conftest import Api, Seeded, assert_problem, key_api, session_api
from tests.conftest import Member


def test_rule_crud_with_monitors_all_list_or_tags(api: Api, alpha: Seeded) -> None:
    channel = str(alpha.channel.id)
    response = api.post(
        "v1-alert-rules-list",
        body={"name": "All down", "monitors": "all", "events": ["down"], "channels": [channel]},
    )
    assert response.status_code == 201, response.content
    rule = response.json()
    assert rule["monitors"] == "all" and rule["scope"] == "all" and rule["channels"] == [channel]
    assert rule["enabled"] is True and rule["repeat_minutes"] is None

    response = api.patch(
        "v1-alert-rules-detail", rule["id"], body={"monitors": [str(alpha.http.id)]}
    )
    assert response.status_code == 200, response.content
    assert response.json()["monitors"] == [str(alpha.http.id)]
    assert response.json()["scope"] == "list" and response.json()["name"] == "All down"

    response = api.patch("v1-alert-rules-detail", rule["id"], body={"tags": ["Nightly"]})
    assert response.json()["scope"] == "tag" and response.json()["tags"] == ["nightly"]
    assert response.json()["monitors"] == []

    response = api.put(
        "v1-alert-rules-detail",
        rule["id"],
        body={
            "name": "Degraded too",
            "events": ["down", "degraded", "recovered"],
            "channels": [channel],
            "repeat_minutes": 30,
            "enabled": False,
        },
    )
    body = response.json()
    assert body["monitors"] == "all" and body["repeat_minutes"] == 30 and body["enabled"] is False
    assert body["events"] == ["down", "degraded", "recovered"]

    listed = api.get("v1-alert-rules-list").json()["results"]
    assert {r["name"] for r in listed} == {"Page ops", "Degraded too"}
    assert api.get("v1-alert-rules-detail", rule["id"]).json() == body
    assert api.delete("v1-alert-rules-detail", rule["id"]).status_code == 204
    assert_problem(api.get("v1-alert-rules-detail", rule["id"]), 404)


def test_rule_validation(api: Api, alpha: Seeded, outsider: Member) -> None:
    response = api.post("v1-alert-rules-list", body={"name": "x", "monitors": "some"})
    assert set(assert_problem(response, 400)["errors"]) == {"monitors", "events", "channels"}
    response = api.post(
        "v1-alert-rules-list",
        body={"name": "x", "events": ["sideways"], "channels": ["nope"], "monitors": ["nope"]},
    )
    assert set(assert_problem(response, 400)["errors"]) == {"events", "channels", "monitors"}
    response = api.post(
        "v1-alert-rules-list",
        body={
            "name": "x",
            "events": ["down"],
            "channels": [str(alpha.channel.id)],
            "monitors": "all",
            "tags": ["a"],
        },
    )
    assert set(assert_problem(response, 400)["errors"]) == {"tags"}
    # Another org's (or no) channel: the service cannot see it.
    response = api.post(
        "v1-alert-rules-list",
        body={"name": "x", "events": ["down"], "channels": [str(uuid.uuid4())]},
    )
    assert set(assert_problem(response, 400)["errors"]) == {"channels"}


def test_maintenance_windows(api: Api, alpha: Seeded, owner: Member) -> None:
    response = api.post(
        "v1-maintenance-windows-list",
        body={
            "name": "Upgrade",
            "starts_at": "2031-01-01T10:00:00Z",
            "ends_at": "2031-01-01T12:00:00Z",
            "monitors": [str(alpha.http.id)],
        },
    )
    assert response.status_code == 201, response.content
    window = response.json()
    assert window["monitors"] == [str(alpha.http.id)] and window["cron"] == ""
    assert window["starts_at"].startswith("2031-01-01T10:00:00")
    listed = api.get("v1-maintenance-windows-list").json()["results"]
    assert {w["name"] for w in listed} == {"Sunday patching", "Upgrade"}
    got = api.get("v1-maintenance-windows-detail", alpha.window.id).json()
    assert got["cron"] == "0 3 * * 0" and got["duration_minutes"] == 60
    assert api.delete("v1-maintenance-windows-detail", window["id"]).status_code == 204
    with tenancy.org_context(owner.org.id):
        assert MaintenanceWindow.objects.count() == 1


def test_maintenance_validation(api: Api) -> None:
    response = api.post("v1-maintenance-windows-list", body={"name": "x"})
    assert set(assert_problem(response, 400)["errors"]) == {"starts_at", "ends_at", "monitors"}
    response = api.post(
        "v1-maintenance-windows-list",
        body={"name": "x", "cron": "every day", "all_monitors": True, "timezone": "America"},
    )
    assert set(assert_problem(response, 400)["errors"]) == {"timezone"}
    response = api.post(
        "v1-maintenance-windows-list",
        body={"name": "x", "cron": "every day", "all_monitors": True},
    )
    assert set(assert_problem(response, 400)["errors"]) == {"cron", "duration_minutes"}


def test_roles(owner: Member, operator: Member, alpha: Seeded) -> None:
    rule_body = {"name": "x", "events": ["down"], "channels": [str(alpha.channel.id)]}
    window_body = {"name": "x", "all_monitors": True, "cron": "0 1 * * *", "duration_minutes": 5}
    for api in (session_api(operator), key_api(owner, ["read"])):
        assert api.get("v1-alert-rules-detail", alpha.rule.id).status_code == 200
        assert api.get("v1-maintenance-windows-detail", alpha.window.id).status_code == 200
        assert_problem(api.post("v1-alert-rules-list", body=rule_body), 403)
        assert_problem(api.put("v1-alert-rules-detail", alpha.rule.id, body=rule_body), 403)
        assert_problem(api.patch("v1-alert-rules-detail", alpha.rule.id, body=rule_body), 403)
        assert_problem(api.delete("v1-alert-rules-detail", alpha.rule.id), 403)
        assert_problem(api.post("v1-maintenance-windows-list", body=window_body), 403)
        assert_problem(api.delete("v1-maintenance-windows-detail", alpha.window.id), 403)
    with tenancy.org_context(owner.org.id):
        assert AlertRule.objects.get(id=alpha.rule.id).name == "Page ops"
