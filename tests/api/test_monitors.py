"""/v1/monitors: CRUD, filters, pause/resume, check results and uptime."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditLog
from monitors.models import Monitor
from pulse import tenancy
from tests.api.conftest import Api, Seeded, assert_problem, key_api, record_results, session_api
from tests.conftest import Member

SITE = {"name": "Site", "type": "http", "target": "https://www.example.com"}


def _monitor(member: Member, monitor_id: Any) -> Monitor:
    with tenancy.org_context(member.org.id):
        return Monitor.objects.get(id=monitor_id)


def test_create_retrieve_update_delete(api: Api, owner: Member) -> None:
    response = api.post(
        "v1-monitors-list",
        body={
            **SITE,
            "interval_seconds": 30,
            "timeout_seconds": 5,
            "tags": ["Prod", "web"],
            "config": {"method": "head", "accepted_status": ["200-299", 301]},
            "latency_degraded_ms": 800,
        },
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["target"] == "https://www.example.com/"  # normalized by the service
    assert created["tags"] == ["prod", "web"] and created["status"] == "pending"
    assert created["config"]["method"] == "HEAD"
    assert created["config"]["accepted_status"] == ["200-299", "301"]
    assert created["paused"] is False and created["heartbeat_url"] is None
    assert {"fail_threshold", "last_check_at", "interval_seconds"} <= set(created)

    got = api.get("v1-monitors-detail", created["id"]).json()
    assert got == created

    response = api.patch("v1-monitors-detail", created["id"], body={"name": "Site (www)"})
    assert response.status_code == 200
    assert response.json()["name"] == "Site (www)" and response.json()["interval_seconds"] == 30

    # PUT replaces: what is left out returns to its default.
    response = api.put("v1-monitors-detail", created["id"], body=SITE)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (
        body["interval_seconds"] == 60 and body["tags"] == [] and body["config"]["method"] == "GET"
    )

    assert api.delete("v1-monitors-detail", created["id"]).status_code == 204
    assert_problem(api.get("v1-monitors-detail", created["id"]), 404)
    with tenancy.org_context(owner.org.id):
        actions = list(AuditLog.objects.order_by("ts").values_list("action", flat=True))
    assert actions[-4:] == ["monitor.create", "monitor.update", "monitor.update", "monitor.delete"]


def test_alert_settings_are_writable(api: Api) -> None:
    body = {**SITE, "fail_threshold": 5, "recover_threshold": 3, "window": 30, "down_ratio": 0.6}
    created = api.post("v1-monitors-list", body=body).json()
    assert (created["fail_threshold"], created["window"], created["down_ratio"]) == (5, 30, 0.6)
    patched = api.patch("v1-monitors-detail", created["id"], body={"flap_high": 0.5}).json()
    assert patched["flap_high"] == 0.5 and patched["fail_threshold"] == 5
    replaced = api.put("v1-monitors-detail", created["id"], body=SITE).json()
    assert replaced["fail_threshold"] == 3 and replaced["flap_high"] == 0.3  # defaults
    response = api.patch(
        "v1-monitors-detail", created["id"], body={"flap_low": 0.4, "flap_high": 0.35}
    )
    assert set(assert_problem(response, 400)["errors"]) == {"flap_low"}
    response = api.patch("v1-monitors-detail", created["id"], body={"window": 1})
    assert set(assert_problem(response, 400)["errors"]) == {"window"}  # the serializer
    response = api.patch("v1-monitors-detail", created["id"], body={"down_ratio": 0})
    assert set(assert_problem(response, 400)["errors"]) == {"down_ratio"}  # the service


def test_the_type_of_a_monitor_cannot_change(api: Api, alpha: Seeded) -> None:
    response = api.patch("v1-monitors-detail", alpha.http.id, body={"type": "tcp"})
    assert set(assert_problem(response, 400)["errors"]) == {"type"}


def test_service_errors_keep_their_field_keys(api: Api) -> None:
    response = api.post(
        "v1-monitors-list",
        body={
            "name": "Bad",
            "type": "http",
            "target": "https://x.example",
            "interval_seconds": 10,
            "timeout_seconds": 30,
            "config": {"json_path": "a..b", "nope": 1},
        },
    )
    errors = assert_problem(response, 400)["errors"]
    assert set(errors) == {"timeout_seconds", "config", "config.json_path", "config.json_expected"}
    assert all(isinstance(v, list) and v for v in errors.values())


def test_serializer_errors_come_first_and_by_field(api: Api) -> None:
    response = api.post(
        "v1-monitors-list",
        body={"type": "smtp", "interval_seconds": 5, "tags": "prod", "config": []},
    )
    errors = assert_problem(response, 400)["errors"]
    assert set(errors) == {"name", "type", "interval_seconds", "tags", "config"}


def test_an_unknown_time_zone_is_a_field_error_not_a_crash(api: Api) -> None:
    response = api.post(
        "v1-monitors-list",
        body={"name": "Cron", "type": "push", "config": {"cron": "0 * * * *", "tz": "America"}},
    )
    assert set(assert_problem(response, 400)["errors"]) == {"config.tz"}


def test_push_monitors_have_a_heartbeat_url(api: Api, alpha: Seeded) -> None:
    body = api.get("v1-monitors-detail", alpha.push.id).json()
    assert body["heartbeat_url"].endswith(f"/v1/ingest/heartbeat/{alpha.push.heartbeat_token}")


def test_list_filters_and_search(api: Api, alpha: Seeded) -> None:
    def names(**query: str) -> list[str]:
        response = api.get("v1-monitors-list", query=query)
        assert response.status_code == 200, response.content
        return sorted(m["name"] for m in response.json()["results"])

    assert names() == ["API", "Backup job"]
    assert names(type="push") == ["Backup job"]
    assert names(tag="NIGHTLY") == ["Backup job"]
    assert names(status="up") == ["API"]  # recorded results moved it
    assert names(search="example.com") == ["API"]
    errors = assert_problem(api.get("v1-monitors-list", query={"status": "sideways"}), 400)
    assert set(errors["errors"]) == {"status"}


def test_the_list_is_cursor_paginated_with_constant_queries(api: Api, owner: Member) -> None:
    for i in range(5):
        api.post("v1-monitors-list", body={**SITE, "name": f"m{i}"})
    first = api.get("v1-monitors-list", query={"limit": 2}).json()
    assert len(first["results"]) == 2 and first["next"] and first["previous"] is None
    second = api.client.get(first["next"], **api.headers).json()
    assert len(second["results"]) == 2
    ids = {m["id"] for m in first["results"]} | {m["id"] for m in second["results"]}
    assert len(ids) == 4
    with CaptureQueriesContext(connection) as few:
        api.get("v1-monitors-list", query={"limit": 2})
    with CaptureQueriesContext(connection) as many:
        api.get("v1-monitors-list", query={"limit": 5})
    assert len(few) == len(many)


def test_pause_and_resume(owner: Member, operator: Member, alpha: Seeded) -> None:
    api = session_api(operator)
    response = api.post("v1-monitors-pause", alpha.http.id)
    assert response.status_code == 200
    assert response.json()["paused"] is True and response.json()["status"] == "paused"
    assert api.post("v1-monitors-pause", alpha.http.id).status_code == 200  # idempotent
    response = api.post("v1-monitors-resume", alpha.http.id)
    assert response.json()["paused"] is False and response.json()["status"] == "pending"
    assert _monitor(owner, alpha.http.id).paused is False


def test_roles(operator: Member, viewer: Member, alpha: Seeded) -> None:
    for member in (operator, viewer):
        api = session_api(member)
        assert api.get("v1-monitors-list").status_code == 200
        assert api.get("v1-monitors-detail", alpha.http.id).status_code == 200
        assert_problem(api.post("v1-monitors-list", body=SITE), 403)
        assert_problem(api.patch("v1-monitors-detail", alpha.http.id, body={"name": "x"}), 403)
        assert_problem(api.put("v1-monitors-detail", alpha.http.id, body=SITE), 403)
        assert_problem(api.delete("v1-monitors-detail", alpha.http.id), 403)
    viewer_api = session_api(viewer)
    assert_problem(viewer_api.post("v1-monitors-pause", alpha.http.id), 403)
    assert_problem(viewer_api.post("v1-monitors-resume", alpha.http.id), 403)
    assert _monitor(alpha.member, alpha.http.id).name == "API"


def test_check_results_in_a_time_range(api: Api, alpha: Seeded) -> None:
    response = api.get("v1-monitors-checks", alpha.http.id)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["outcome"] for r in results] == ["fail", "ok", "ok"]  # newest first
    assert results[0]["status_code"] == 503 and results[0]["latency_ms"] is None
    assert "id" not in results[0]
    # Half way between the last two results (a minute apart), however long ago the
    # fixture wrote them.
    newest = datetime.fromisoformat(results[0]["ts"])
    since = (newest - timedelta(seconds=30)).isoformat()
    recent = api.get("v1-monitors-checks", alpha.http.id, query={"since": since}).json()
    assert [r["outcome"] for r in recent["results"]] == ["fail"]
    old = (timezone.now() - timedelta(days=3)).isoformat()
    empty = api.get("v1-monitors-checks", alpha.http.id, query={"until": old}).json()
    assert empty["results"] == []
    paged = api.get("v1-monitors-checks", alpha.http.id, query={"limit": 2}).json()
    assert len(paged["results"]) == 2 and paged["next"]
    bad = api.get(
        "v1-monitors-checks", alpha.http.id, query={"since": "2030-01-01", "until": "2020-01-01"}
    )
    assert set(assert_problem(bad, 400)["errors"]) == {"until"}
    assert_problem(api.get("v1-monitors-checks", alpha.http.id, query={"since": "soon"}), 400)


def test_uptime_windows(api: Api, alpha: Seeded) -> None:
    record_results(alpha.http, ["ok"])
    body = api.get("v1-monitors-uptime", alpha.http.id).json()
    assert body["monitor"] == str(alpha.http.id)
    assert set(body["windows"]) == {"24h", "7d", "30d"}
    day = body["windows"]["24h"]
    assert day["checks"] == 4 and day["failures"] == 1 and day["percent"] == 75.0
    push = api.get("v1-monitors-uptime", alpha.push.id).json()["windows"]["30d"]
    assert push == {"percent": None, "checks": 0, "failures": 0}


def test_a_key_and_a_session_see_the_same_thing(owner: Member, alpha: Seeded) -> None:
    by_key = key_api(owner).get("v1-monitors-detail", alpha.http.id).json()
    by_session = session_api(owner).get("v1-monitors-detail", alpha.http.id).json()
    assert by_key == by_session


def test_a_monitor_with_an_incident_can_be_deleted(api: Api, alpha: Seeded) -> None:
    assert api.delete("v1-monitors-detail", alpha.http.id).status_code == 204
