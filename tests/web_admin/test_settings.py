"""Screen 16, Team & settings: the organization page (rename, audited), the settings
tabs per role, and the sidebar entries this work wired."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.audit import Actor
from accounts.models import AuditLog, Organization, Role
from accounts.org_settings import org_rename
from tests.conftest import Member
from tests.web_admin.conftest import html_of


def test_owner_renames_the_org_and_it_is_audited(owner: Member) -> None:
    client = owner.client()
    url = reverse("accounts:org_settings")
    page = html_of(client, url)
    assert 'value="Alpha"' in page and owner.org.slug in page
    response = client.post(url, {"name": "  Alpha   Industries "})
    assert response.status_code == 302 and response["Location"] == url
    org = Organization.objects.get(id=owner.org.id)
    assert org.name == "Alpha Industries" and org.slug == owner.org.slug
    entry = AuditLog.all_orgs.get(org_id=owner.org.id, action="org.rename")
    assert entry.changes == {"name": ["Alpha", "Alpha Industries"]}
    assert entry.actor_label == "owner@alpha.test"
    page = html_of(client, url)
    assert "The organization is now called Alpha Industries" in page
    assert "Alpha Industries" in page.split("</header>")[0]  # the org switcher shows it


def test_a_blank_name_is_refused_on_its_input(owner: Member) -> None:
    response = owner.client().post(reverse("accounts:org_settings"), {"name": "   "})
    assert response.status_code == 400
    assert re.search(r'id="id_name_error"', response.content.decode())
    assert Organization.objects.get(id=owner.org.id).name == "Alpha"


def test_the_service_refuses_roles_without_org_write(owner: Member) -> None:
    from django.core.exceptions import PermissionDenied, ValidationError

    with pytest.raises(PermissionDenied):
        org_rename(actor=Actor(user=owner.user), role=Role.OPERATOR, org=owner.org, name="X")
    with pytest.raises(ValidationError):
        org_rename(actor=Actor(user=owner.user), role=Role.ADMIN, org=owner.org, name="x" * 121)
    same = org_rename(actor=Actor(user=owner.user), role=Role.ADMIN, org=owner.org, name="Alpha")
    assert same.name == "Alpha"
    assert not AuditLog.all_orgs.filter(action="org.rename").exists()  # nothing changed


def test_a_viewer_sees_the_settings_read_only_and_is_refused(owner: Member, viewer: Member) -> None:
    client = viewer.client()
    page = html_of(client, reverse("accounts:org_settings"))
    assert "Only admins and owners can rename" in page and 'name="name"' not in page
    assert client.post(reverse("accounts:org_settings"), {"name": "Hijacked"}).status_code == 403
    assert Organization.objects.get(id=owner.org.id).name == "Alpha"


def test_settings_tabs_and_nav_follow_the_role(owner: Member, viewer: Member) -> None:
    owner_page = html_of(owner.client(), reverse("accounts:sessions"))
    for name in (
        "accounts:team",
        "accounts:org_settings",
        "accounts:sessions",
        "accounts:api_keys",
        "accounts:audit_log",
        "alerting:maintenance_list",
    ):
        assert f'href="{reverse(name)}"' in owner_page, name
    viewer_page = html_of(viewer.client(), reverse("accounts:team"))
    assert f'href="{reverse("accounts:org_settings")}"' in viewer_page
    assert reverse("accounts:api_keys") not in viewer_page
    assert reverse("accounts:audit_log") not in viewer_page


@pytest.mark.parametrize(
    ("url_name", "key"),
    [
        ("notifications_ui:channel_list", "channels"),
        ("notifications_ui:delivery_list", "channels"),
        ("alerting:rule_list", "rules"),
        ("alerting:maintenance_list", "maintenance"),
        ("accounts:api_keys", "api_keys"),
        ("accounts:audit_log", "audit"),
        ("accounts:org_settings", "team"),
    ],
)
def test_the_sidebar_marks_the_current_section(owner: Member, url_name: str, key: str) -> None:
    html = html_of(owner.client(), reverse(url_name))
    current = re.findall(r'data-nav-key="(\w+)" aria-current="page"', html)
    assert current == [key]
    # Every entry this work wired is a live link, not "soon".
    for wired in ("channels", "rules", "maintenance", "api_keys", "audit", "team"):
        assert re.search(rf'<a class="nav-link" href="/[^"]+" data-nav-key="{wired}"', html), wired
