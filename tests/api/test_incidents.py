"""/v1/incidents: list, the timeline, acknowledge, resolve and notes."""

from __future__ import annotations

from incidents.models import Incident
from pulse import tenancy
from tests.api.conftest import Api, Seeded, assert_problem, key_api, session_api
from tests.conftest import Member


def test_list_and_filter(api: Api, alpha: Seeded) -> None:
    body = api.get("v1-incidents-list").json()
    (incident,) = body["results"]
    assert incident["id"] == str(alpha.incident.id) and incident["status"] == "open"
    assert incident["monitor"] == str(alpha.http.id) and incident["monitor_name"] == "API"
    assert incident["acknowledged_at"] is None and "events" not in incident
    assert api.get("v1-incidents-list", query={"status": "resolved"}).json()["results"] == []
    by_monitor = api.get("v1-incidents-list", query={"monitor": str(alpha.push.id)}).json()
    assert by_monitor["results"] == []
    assert_problem(api.get("v1-incidents-list", query={"status": "closed"}), 400)


def test_retrieve_has_the_timeline(api: Api, alpha: Seeded) -> None:
    body = api.get("v1-incidents-detail", alpha.incident.id).json()
    assert [e["kind"] for e in body["events"]] == ["opened"]
    assert body["events"][0]["actor"] == "system:state-machine"


def test_acknowledge_note_resolve_by_an_operator(operator: Member, alpha: Seeded) -> None:
    api = session_api(operator)
    response = api.post("v1-incidents-acknowledge", alpha.incident.id)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "acknowledged" and body["acknowledged_by"] == operator.user.email
    assert api.post("v1-incidents-acknowledge", alpha.incident.id).status_code == 200
    response = api.post("v1-incidents-notes", alpha.incident.id, body={"text": "Looking at it"})
    assert response.status_code == 201
    assert response.json()["kind"] == "note" and response.json()["message"] == "Looking at it"
    response = api.post("v1-incidents-resolve", alpha.incident.id, body={"note": "Fixed DNS"})
    body = response.json()
    assert body["status"] == "resolved" and body["resolution"] == "manual"
    assert [e["kind"] for e in body["events"]] == ["opened", "acknowledged", "note", "resolved"]
    assert body["events"][-1]["message"] == "Fixed DNS"


def test_resolve_without_a_body(api: Api, alpha: Seeded) -> None:
    response = api.post("v1-incidents-resolve", alpha.incident.id)
    assert response.status_code == 200 and response.json()["status"] == "resolved"


def test_note_validation(api: Api, alpha: Seeded) -> None:
    assert set(
        assert_problem(api.post("v1-incidents-notes", alpha.incident.id, body={}), 400)["errors"]
    ) == {"text"}
    response = api.post("v1-incidents-notes", alpha.incident.id, body={"text": "   "})
    assert set(assert_problem(response, 400)["errors"]) == {"text"}
    response = api.post("v1-incidents-notes", alpha.incident.id, body={"text": "x" * 5001})
    assert set(assert_problem(response, 400)["errors"]) == {"text"}


def test_viewers_and_read_keys_only_read(owner: Member, viewer: Member, alpha: Seeded) -> None:
    for api in (session_api(viewer), key_api(owner, ["read"])):
        assert api.get("v1-incidents-detail", alpha.incident.id).status_code == 200
        assert_problem(api.post("v1-incidents-acknowledge", alpha.incident.id), 403)
        assert_problem(api.post("v1-incidents-resolve", alpha.incident.id), 403)
        assert_problem(api.post("v1-incidents-notes", alpha.incident.id, body={"text": "x"}), 403)
    with tenancy.org_context(owner.org.id):
        assert Incident.objects.get(id=alpha.incident.id).status == "open"


def test_an_api_key_shows_on_the_timeline(owner: Member, alpha: Seeded) -> None:
    api = key_api(owner, ["write"])
    api.post("v1-incidents-notes", alpha.incident.id, body={"text": "from CI"})
    events = api.get("v1-incidents-detail", alpha.incident.id).json()["events"]
    assert events[-1]["actor"].startswith("api-key:")
