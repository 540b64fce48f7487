"""/v1/notifications: the outbox, filtered (dead letters), and retry."""

from __future__ import annotations

from notifications.models import Notification
from pulse import tenancy
from tests.api.conftest import Api, Seeded, assert_problem, key_api, session_api
from tests.conftest import Member


def test_list_filter_and_retry_a_dead_letter(api: Api, alpha: Seeded, owner: Member) -> None:
    (dead,) = api.get("v1-notifications-list", query={"status": "dead"}).json()["results"]
    assert dead["id"] == str(alpha.notification.id)
    assert dead["attempts"] == 8 and dead["idempotency_key"] == alpha.notification.idempotency_key
    assert dead["channel"] == str(alpha.channel.id) and dead["last_error"] == "HTTP 500"
    assert api.get("v1-notifications-list", query={"status": "sent"}).json()["results"] == []
    by_channel = api.get("v1-notifications-list", query={"channel": str(alpha.channel.id)})
    assert len(by_channel.json()["results"]) == 1
    assert_problem(api.get("v1-notifications-list", query={"status": "lost"}), 400)

    response = api.post("v1-notifications-retry", alpha.notification.id)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "pending" and response.json()["attempts"] == 0
    got = api.get("v1-notifications-detail", alpha.notification.id).json()
    assert got["status"] == "pending"
    # Only dead or failed rows can be retried.
    body = assert_problem(api.post("v1-notifications-retry", alpha.notification.id), 400)
    assert body["errors"] == {
        "non_field_errors": ["Only dead or failed notifications can be retried."]
    }


def test_roles(owner: Member, operator: Member, alpha: Seeded) -> None:
    for api in (session_api(operator), key_api(owner, ["read"])):
        assert api.get("v1-notifications-detail", alpha.notification.id).status_code == 200
        assert_problem(api.post("v1-notifications-retry", alpha.notification.id), 403)
    with tenancy.org_context(owner.org.id):
        assert Notification.objects.get(id=alpha.notification.id).status == "dead"
