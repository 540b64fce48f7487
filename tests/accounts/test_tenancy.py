"""The tenant manager fails closed; cross-org access answers 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Invitation, Membership
from pulse import tenancy
from pulse.tenancy import NoTenantContext
from tests.conftest import Member


def test_the_default_manager_raises_with_no_org_in_context(owner: Member) -> None:
    with pytest.raises(NoTenantContext):
        list(Membership.objects.all())
    with pytest.raises(NoTenantContext):
        Invitation.objects.count()


def test_the_default_manager_filters_to_the_org_in_context(owner: Member, outsider: Member) -> None:
    with tenancy.org_context(owner.org.id):
        assert list(Membership.objects.values_list("org_id", flat=True)) == [owner.org.id]


def test_the_all_orgs_escape_sees_every_org(owner: Member, outsider: Member) -> None:
    assert Membership.all_orgs.count() == 2


def test_an_outsider_gets_404_changing_another_orgs_member(
    owner: Member, outsider: Member, viewer: Member
) -> None:
    client = outsider.client()
    url = reverse("accounts:member_role", args=[viewer.membership.id])
    response = client.post(url, {"role": "admin"})
    assert response.status_code == 404
    response = client.post(reverse("accounts:member_remove", args=[viewer.membership.id]))
    assert response.status_code == 404
    with tenancy.org_context(owner.org.id):
        assert Membership.objects.get(id=viewer.membership.id).role == "viewer"


def test_an_outsider_gets_404_revoking_another_orgs_invitation(
    owner: Member, outsider: Member
) -> None:
    with tenancy.org_context(owner.org.id):
        invitation = Invitation.objects.create(
            email="new@alpha.test", token_hash="a" * 64, expires_at="2099-01-01T00:00Z"
        )
    response = outsider.client().post(reverse("accounts:invitation_revoke", args=[invitation.id]))
    assert response.status_code == 404
    with tenancy.org_context(owner.org.id):
        assert Invitation.objects.get(id=invitation.id).revoked_at is None


def test_switching_to_an_org_you_are_not_in_is_404(owner: Member, outsider: Member) -> None:
    response = owner.client().post(reverse("accounts:org_switch"), {"org": str(outsider.org.id)})
    assert response.status_code == 404
