"""Every screen in Chromium against the live stack (conftest.py):

- every entry of the app shell's navigation (sidebar, section tabs, user menu) opens by
  clicking it, as an owner and as a viewer, without a console error, an uncaught
  exception or a failed request (status >= 400);
- every screen, public and signed in, is saved in light and dark on a 1280 x 900
  desktop and a 390 x 844 phone (artifacts/screens/workflow-screen-*.png), again
  without errors, and nothing overflows the page sideways.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from playwright.sync_api import Page, expect

from accounts import services as account_services
from accounts.audit import Actor
from accounts.models import ApiKey, Role
from incidents.models import Incident
from monitors.models import Monitor
from pulse import tenancy
from tests.browser.conftest import SCREENS, Ui, unique_email
from tests.conftest import Member, add_member, make_owner
from tests.ingest.test_views import push_series
from tests.notifications.peers import HookReceiver
from tests.web.conftest import monitor_for
from tests.web.test_browser import seed as seed_monitoring
from tests.web_admin.conftest import make_channel, outbox_row
from tests.web_admin.test_api_keys import make_key
from tests.web_admin.test_maintenance import make_window
from tests.web_admin.test_rules import make_rule

pytestmark = [pytest.mark.browser, pytest.mark.live]

SHELL_LINKS = """() => [...document.querySelectorAll(
    "#sidebar-nav a.nav-link:not([aria-disabled]), nav.tabs a, .tabs a.tabs__link,"
    + " .menu__panel a.menu__item")].map(a => a.getAttribute("href"))"""
OWNER_NAV = {
    "dashboard",
    "monitors",
    "incidents",
    "hosts",
    "channels",
    "rules",
    "maintenance",
    "api_keys",
    "audit",
    "team",
}
# Pages with a realtime socket: wait until it is connected before judging them.
LIVE_PAGES = {"dashboard", "monitors", "monitor-detail", "incidents", "incident-detail"}


def nav_keys(page: Page, *, enabled: bool) -> set[str]:
    selector = "#sidebar-nav a.nav-link" + (
        ":not([aria-disabled])" if enabled else "[aria-disabled=true]"
    )
    keys = page.eval_on_selector_all(selector, "els => els.map(e => e.dataset.navKey)")
    return set(keys)


def paused_monitor(member: Member, name: str, **data: Any) -> Monitor:
    """A monitor the stack leaves alone (only its pages matter here)."""
    monitor = monitor_for(member, name=name, **data)
    Monitor.all_orgs.filter(id=monitor.id).update(paused=True)
    return monitor


def walk_the_shell(ui: Ui, member: Member) -> tuple[set[str], set[str], list[str]]:
    """Click every enabled sidebar entry, then open every tab and user-menu link seen
    on the way. Returns (enabled keys, "soon" keys, problems)."""
    watched = ui.page()
    page = watched.page
    ui.log_in(page, member.user.email)
    enabled, soon = nav_keys(page, enabled=True), nav_keys(page, enabled=False)
    for key in sorted(enabled):
        link = page.locator(f"#sidebar-nav a[data-nav-key='{key}']")
        href = link.get_attribute("href")
        assert href
        link.click()
        page.wait_for_url(ui.url(href))
        page.wait_for_load_state()
        # The entry is marked current, and the page has a title.
        expect(page.locator(f"#sidebar-nav a[data-nav-key='{key}']")).to_have_attribute(
            "aria-current", "page"
        )
        assert page.inner_text("h1.page-title").strip(), (key, page.url)
    extra: set[str] = set()
    for path in ("/settings/team", "/notify/channels/"):
        page.goto(ui.url(path))
        extra.update(href for href in page.evaluate(SHELL_LINKS) if href.startswith("/"))
    for href in sorted(extra):
        response = page.goto(ui.url(href))
        assert response is not None and response.status == 200, (href, response)
        assert page.inner_text("h1").strip(), href
    return enabled, soon, watched.problems


def test_every_navigation_entry_opens_cleanly_for_an_owner_and_a_viewer(
    ui: Ui, hooks: HookReceiver
) -> None:
    owner = make_owner(unique_email("navowner"), "Navigation Org")
    viewer = add_member(owner.org, unique_email("navviewer"), Role.VIEWER)
    api = paused_monitor(owner, "Checkout API")
    channel = make_channel(owner, name="Ops hook", secrets={"url": hooks.url("ok", "nav")})
    make_rule(owner, channel, name="Everything")
    outbox_row(owner, channel, monitor=api, status="sent", attempts=1, sent_at=timezone.now())
    push_series(owner, "web-1", ("cpu.usage",))

    owner_nav, soon, problems = walk_the_shell(ui, owner)
    assert owner_nav == OWNER_NAV
    assert problems == []
    viewer_nav, _, problems = walk_the_shell(ui, viewer)
    assert viewer_nav == OWNER_NAV - {"api_keys", "audit"}
    assert problems == []
    # SPEC §10 lists Reports (12) and a public status page; the shell still shows them
    # as "soon" (reported, not asserted, until they are built).
    print(f"\nnavigation entries not built yet: {sorted(soon)}")


def seed_everything(owner: Member, hooks: HookReceiver) -> dict[str, str]:
    """A believable org for the screenshots; returns the screens' paths by name."""
    data = seed_monitoring(owner)  # monitors in every state, history, an incident
    # Freeze the seeded states: the live stack must not probe these made-up targets.
    Monitor.all_orgs.filter(org_id=owner.org.id).update(
        next_check_at=timezone.now() + timedelta(days=1)
    )
    now = timezone.now()
    hook = make_channel(owner, name="Signed hook", secrets={"url": hooks.url("ok", "screens")})
    mail = make_channel(
        owner, kind="email", name="On-call e-mail", config={"to": "oncall@alpha.test"}
    )
    outbox_row(owner, mail, monitor=data["api"], status="sent", attempts=1, sent_at=now)
    outbox_row(
        owner,
        hook,
        monitor=data["api"],
        event="recovered",
        status="dead",
        attempts=8,
        last_error="HTTP 500 from 127.0.0.1: upstream connect error",
    )
    rule = make_rule(owner, mail, name="Everything → on-call")
    make_window(
        owner,
        name="Database upgrade",
        starts_at=now - timedelta(minutes=10),
        ends_at=now + timedelta(hours=2),
        timezone="Europe/Berlin",
    )
    key = make_key(owner, "web-01 metrics agent", ("ingest",))
    ApiKey.all_orgs.filter(id=key.id).update(last_used_at=now - timedelta(minutes=3))
    host = push_series(owner, "web-1", ("cpu.usage", "mem.used"))
    with tenancy.org_context(owner.org.id, user_id=owner.user.id):
        _, token = account_services.invitation_create(
            actor=Actor(user=owner.user),
            actor_role=Role.OWNER,
            email=unique_email("pending"),
            role=Role.OPERATOR,
        )
    incident = data["incident"]
    assert isinstance(incident, Incident)
    return {
        # public
        "landing": "/",
        "signup": "/signup",
        "login": "/login",
        "password-reset": "/password-reset",
        "password-reset-sent": "/password-reset/sent",
        "password-reset-confirm": "",  # see reset_link(): valid only until a login
        "invitation": f"/invitations/{token}",
        "invitation-signup": f"/signup?invite={token}",
        # signed in
        "dashboard": "/app/",
        "monitors": "/monitors/",
        "monitor-detail": f"/monitors/{data['api'].id}/",
        "monitor-push": f"/monitors/{data['push'].id}/",
        "monitor-new": "/monitors/new",
        "monitor-edit": f"/monitors/{data['api'].id}/edit",
        "incidents": "/incidents/",
        "incident-detail": f"/incidents/{incident.id}/",
        "hosts": "/hosts/",
        "host-detail": f"/hosts/{host.id}/",
        "channels": "/notify/channels/",
        "channel-detail": f"/notify/channels/{hook.id}/",
        "channel-new": "/notify/channels/new?kind=webhook",
        "channel-edit": f"/notify/channels/{hook.id}/edit",
        "deliveries": "/notify/deliveries/",
        "dead-letters": "/notify/deliveries/?status=dead",
        "rules": "/alerts/rules/",
        "rule-new": "/alerts/rules/new",
        "rule-edit": f"/alerts/rules/{rule.id}/edit",
        "maintenance": "/alerts/maintenance/",
        "maintenance-new": "/alerts/maintenance/new",
        "api-keys": "/settings/api-keys",
        "audit": "/settings/audit",
        "team": "/settings/team",
        "org-settings": "/settings/org",
        "sessions": "/settings/sessions",
        "org-create": "/orgs/new",
    }


def reset_link(member: Member) -> str:
    """A valid password-reset link (what the e-mail carries). Its token covers the last
    login, so it is made after the test's own login."""
    member.user.refresh_from_db()
    uid = urlsafe_base64_encode(force_bytes(member.user.pk))
    return f"/password-reset/{uid}/{default_token_generator.make_token(member.user)}"


PUBLIC = {
    "landing",
    "signup",
    "login",
    "password-reset",
    "password-reset-sent",
    "password-reset-confirm",
    "invitation",
    "invitation-signup",
}


def test_every_screen_in_light_and_dark_on_a_desktop_and_a_phone(
    ui: Ui, hooks: HookReceiver
) -> None:
    owner = make_owner(unique_email("screens"), "Acme Monitoring")
    screens = seed_everything(owner, hooks)
    SCREENS.mkdir(parents=True, exist_ok=True)
    # One login, reused by every signed-in context (the login rate limit stays out).
    first = ui.page()
    ui.log_in(first.page, owner.user.email)
    state = first.page.context.storage_state()
    screens["password-reset-confirm"] = reset_link(owner)

    # The theme toggle itself: flips the page and is remembered across pages.
    first.page.goto(ui.url("/monitors/"))
    assert first.page.evaluate("document.documentElement.dataset.theme") == "light"
    first.page.click("[data-theme-toggle]")
    assert first.page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert first.page.evaluate("localStorage.getItem('pulse-theme')") == "dark"
    expect(first.page.locator("[data-theme-toggle]")).to_have_attribute("aria-pressed", "true")
    assert first.problems == []

    problems: list[tuple[str, str, str, str]] = []
    overflowing: list[tuple[str, str, str, int]] = []
    for theme in ("light", "dark"):
        for size in ("desktop", "phone"):
            public = ui.page(size=size, theme=theme)
            signed_in = ui.page(size=size, theme=theme, state=state)
            for name, path in screens.items():
                watched = public if name in PUBLIC else signed_in
                page = watched.page
                response = page.goto(ui.url(path))
                assert response is not None and response.status == 200, (name, response)
                if name in LIVE_PAGES:
                    page.wait_for_selector("[data-live-socket]:not(.live--off)")
                assert page.evaluate("document.documentElement.dataset.theme") == theme
                assert page.inner_text("h1").strip(), name
                page.screenshot(
                    path=str(SCREENS / f"workflow-screen-{name}-{theme}-{size}.png"),
                    full_page=True,
                )
                overflow = page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                if overflow > 1:
                    overflowing.append((name, theme, size, overflow))
                problems.extend((name, theme, size, p) for p in watched.problems)
                watched.problems.clear()
            public.page.context.close()
            signed_in.page.context.close()
            ui.contexts.clear()
    assert problems == []
    assert overflowing == []


def test_unknown_pages_answer_a_styled_404(ui: Ui) -> None:
    watched = ui.page()
    watched.allow(404, "/no-such-page")
    watched.allow(404, "/monitors/")
    page = watched.page
    response = page.goto(ui.url("/no-such-page"))
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Page not found")
    owner = make_owner(unique_email("lost"), "Lost Org")
    ui.log_in(page, owner.user.email)
    response = page.goto(ui.url(f"/monitors/{uuid.uuid4()}/"))
    assert response is not None and response.status == 404
    page.screenshot(path=str(SCREENS / "workflow-screen-404.png"), full_page=True)
    assert watched.problems == []
