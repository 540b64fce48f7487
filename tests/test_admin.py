"""The support admin spans orgs (system alias) and audits every change."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from accounts.models import AuditLog, Organization, User
from tests.conftest import PASSWORD, Member


def _staff_client() -> Client:
    User.objects.create_user(
        email="support@pulse.test", password=PASSWORD, is_staff=True, is_superuser=True
    )
    client = Client()
    assert client.login(email="support@pulse.test", password=PASSWORD)
    return client


def test_support_staff_see_every_org_and_their_members(owner: Member, outsider: Member) -> None:
    client = _staff_client()
    page = client.get(reverse("admin:accounts_organization_changelist"))
    assert page.status_code == 200
    assert b"Alpha" in page.content and b"Beta" in page.content
    page = client.get(reverse("admin:accounts_membership_changelist"))
    assert b"owner@alpha.test" in page.content and b"outsider@beta.test" in page.content


def test_an_admin_change_is_audited_on_the_org(owner: Member) -> None:
    client = _staff_client()
    url = reverse("admin:accounts_organization_change", args=[owner.org.id])
    response = client.post(
        url,
        {"name": "Alpha Renamed", "slug": owner.org.slug},
    )
    assert response.status_code == 302, response.content[:2000]
    assert Organization.objects.get(id=owner.org.id).name == "Alpha Renamed"
    entry = AuditLog.all_orgs.get(action="admin.change", org_id=owner.org.id)
    assert entry.actor_label == "support@pulse.test"
    assert entry.changes == {"name": "Alpha Renamed"}


def test_non_staff_cannot_open_the_admin(owner: Member) -> None:
    response = owner.client().get(reverse("admin:index"))
    assert response.status_code == 302 and "/support/login" in response["Location"]


def test_support_staff_see_monitors_incidents_and_deliveries_of_every_org(
    owner: Member, outsider: Member
) -> None:
    from monitors.models import Monitor
    from pulse import tenancy

    for member, name in ((owner, "alpha-api"), (outsider, "beta-db")):
        with tenancy.org_context(member.org.id):
            Monitor.objects.create(name=name, type="tcp", target="127.0.0.1:9")
    client = _staff_client()
    page = client.get(reverse("admin:monitors_monitor_changelist"))
    assert page.status_code == 200
    assert b"alpha-api" in page.content and b"beta-db" in page.content
    for name in (
        "incidents_incident",
        "notifications_notification",
        "notifications_channel",
        "alerting_alertrule",
        "alerting_maintenancewindow",
    ):
        assert client.get(reverse(f"admin:{name}_changelist")).status_code == 200
    # Read-only: support cannot change a monitor behind the product's back.
    monitor = Monitor.all_orgs.get(name="beta-db")
    response = client.post(
        reverse("admin:monitors_monitor_change", args=[monitor.id]), {"name": "hijacked"}
    )
    assert response.status_code == 403
    assert Monitor.all_orgs.get(id=monitor.id).name == "beta-db"
