"""/v1/members, /v1/invitations and /v1/audit-logs."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts.models import Invitation, Membership
from pulse import tenancy
from tests.api.conftest import Api, Seeded, assert_problem, key_api, session_api
from tests.conftest import Member


def _member_id(api: Api, email: str) -> str:
    rows = api.get("v1-members-list").json()["results"]
    return next(m["id"] for m in rows if m["user"]["email"] == email)


def test_members_list_change_role_and_remove(
    owner: Member, admin_member: Member, viewer: Member
) -> None:
    api = session_api(admin_member)
    rows = api.get("v1-members-list").json()["results"]
    assert [m["user"]["email"] for m in rows] == [
        "owner@alpha.test",
        "admin@alpha.test",
        "viewer@alpha.test",
    ]
    viewer_id = _member_id(api, viewer.user.email)
    assert api.get("v1-members-detail", viewer_id).json()["role"] == "viewer"
    response = api.patch("v1-members-detail", viewer_id, body={"role": "operator"})
    assert response.status_code == 200 and response.json()["role"] == "operator"
    assert set(
        assert_problem(api.patch("v1-members-detail", viewer_id, body={}), 400)["errors"]
    ) == {"role"}
    # Owners are an owner's business.
    owner_id = _member_id(api, owner.user.email)
    assert_problem(api.patch("v1-members-detail", viewer_id, body={"role": "owner"}), 403)
    assert_problem(api.patch("v1-members-detail", owner_id, body={"role": "viewer"}), 403)
    assert_problem(api.delete("v1-members-detail", owner_id), 403)
    assert api.delete("v1-members-detail", viewer_id).status_code == 204
    with tenancy.org_context(owner.org.id):
        assert not Membership.objects.filter(user=viewer.user).exists()


def test_the_last_owner_stays(owner: Member) -> None:
    api = session_api(owner)
    owner_id = _member_id(api, owner.user.email)
    response = api.patch("v1-members-detail", owner_id, body={"role": "admin"})
    assert set(assert_problem(response, 400)["errors"]) == {"role"}
    assert_problem(api.delete("v1-members-detail", owner_id), 400)


def test_members_are_readable_by_viewers_but_not_managed(owner: Member, viewer: Member) -> None:
    api = session_api(viewer)
    owner_id = _member_id(api, owner.user.email)
    viewer_id = _member_id(api, viewer.user.email)
    assert_problem(api.patch("v1-members-detail", viewer_id, body={"role": "admin"}), 403)
    assert_problem(api.delete("v1-members-detail", owner_id), 403)


def test_invitations(api: Api, alpha: Seeded, owner: Member) -> None:
    (pending,) = api.get("v1-invitations-list").json()["results"]
    assert pending["email"] == "new@alpha.test" and pending["status"] == "pending"
    assert pending["invited_by"] == owner.user.email
    response = api.post("v1-invitations-list", body={"email": "Ops@Alpha.test", "role": "operator"})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["role"] == "operator" and "token" not in created
    response = api.post("v1-invitations-revoke", created["id"])
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    assert api.get("v1-invitations-detail", created["id"]).json()["revoked_at"]
    errors = assert_problem(api.post("v1-invitations-list", body={"email": "nope"}), 400)["errors"]
    assert set(errors) == {"email"}
    response = api.post("v1-invitations-list", body={"email": owner.user.email})
    assert set(assert_problem(response, 400)["errors"]) == {"email"}
    # An admin key cannot invite an owner.
    assert_problem(
        api.post("v1-invitations-list", body={"email": "x@y.test", "role": "owner"}), 403
    )
    with tenancy.org_context(owner.org.id):
        Invitation.objects.filter(id=alpha.invitation.id).update(accepted_at=timezone.now())
    assert_problem(api.post("v1-invitations-revoke", alpha.invitation.id), 400)


def test_invitations_are_for_admins(owner: Member, operator: Member, alpha: Seeded) -> None:
    for api in (session_api(operator), key_api(owner, ["read"])):
        assert_problem(api.get("v1-invitations-list"), 403)
        assert_problem(api.get("v1-invitations-detail", alpha.invitation.id), 403)
        assert_problem(api.post("v1-invitations-list", body={"email": "a@b.test"}), 403)
        assert_problem(api.post("v1-invitations-revoke", alpha.invitation.id), 403)


def test_audit_log_filters(api: Api, alpha: Seeded, owner: Member) -> None:
    def actions(**query: str) -> list[str]:
        response = api.get("v1-audit-logs-list", query={"limit": "200", **query})
        assert response.status_code == 200, response.content
        return [e["action"] for e in response.json()["results"]]

    everything = actions()
    assert "monitor.create" in everything and "channel.create" in everything
    assert set(actions(action="monitor")) == {"monitor.create"}
    assert actions(action="monitor.create") == ["monitor.create", "monitor.create"]
    assert actions(action="monitor.cr") == []
    by_owner = actions(actor=owner.user.email.upper())
    assert by_owner and set(by_owner) <= set(everything)
    assert set(actions(actor=str(owner.user.id))) == set(by_owner)
    assert actions(target=str(alpha.http.id)) == ["monitor.create"]
    assert actions(target=f"monitors.monitor:{alpha.http.id}") == ["monitor.create"]
    future = (timezone.now() + timedelta(minutes=5)).isoformat()
    assert actions(since=future) == []
    assert actions(until="2001-01-01T00:00:00Z") == []
    entry = api.get("v1-audit-logs-list", query={"action": "channel.create"}).json()["results"][0]
    assert entry["actor"] == owner.user.email and entry["actor_user"] == str(owner.user.id)
    assert_problem(api.get("v1-audit-logs-list", query={"since": "yesterday"}), 400)


def test_the_audit_log_is_for_admins(owner: Member, operator: Member) -> None:
    assert_problem(session_api(operator).get("v1-audit-logs-list"), 403)
    assert_problem(key_api(owner, ["read"]).get("v1-audit-logs-list"), 403)
