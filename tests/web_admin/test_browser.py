"""The admin screens in Chromium against daphne: every page renders without console
errors or CSP violations, in light and dark, on a desktop and a 390 px phone, with
nothing overflowing sideways (screenshots in artifacts/screens/admin-*.png); and the
main workflows run to their last step: a channel made through the kind picker and
tested, a dead letter retried, an API key created and copied, a rule scoped by tag."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import ApiKey
from alerting.models import AlertRule
from notifications.models import Channel, Notification
from tests.conftest import Member
from tests.live import ARTIFACTS, daphne
from tests.notifications.peers import HookReceiver
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORTS, log_in, watch_console
from tests.web_admin.conftest import make_channel, monitor, outbox_row, whsec
from tests.web_admin.test_api_keys import make_key
from tests.web_admin.test_maintenance import make_window
from tests.web_admin.test_rules import make_rule

pytestmark = [pytest.mark.browser, pytest.mark.live]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def server(live_db: None) -> Iterator[str]:
    with daphne() as base:
        yield base


def seed(owner: Member, hooks: HookReceiver) -> dict[str, Any]:
    api = monitor(owner, "Checkout API", tags=["prod", "api"])
    web = monitor(owner, "Marketing site", tags=["web"])
    monitor(owner, "Postgres primary", tags=["prod", "db"])
    hook = make_channel(owner, name="Ops webhook", secrets={"url": hooks.url("fail", "seed")})
    mail = make_channel(
        owner,
        kind="email",
        name="On-call e-mail",
        config={"to": "oncall@alpha.test, sre@alpha.test"},
    )
    slack = make_channel(
        owner,
        kind="slack",
        name="#incidents Slack",
        secrets={"url": "https://hooks.slack.com/services/T0000/B0000/abcdefghijklmnopqrstuvwx"},
    )
    Channel.all_orgs.filter(id=slack.id).update(
        enabled=False, disabled_reason="disabled after: HTTP 410 from hooks.slack.com"
    )
    now = timezone.now()
    outbox_row(owner, mail, monitor=api, status="sent", attempts=1, sent_at=now)
    outbox_row(
        owner, hook, monitor=api, status="failed", attempts=3, last_error="HTTP 503 from 127.0.0.1"
    )
    dead = outbox_row(
        owner,
        hook,
        monitor=web,
        event="recovered",
        status="dead",
        attempts=8,
        last_error="HTTP 500 from 127.0.0.1: upstream connect error or disconnect/reset "
        "before headers",
    )
    outbox_row(owner, mail, monitor=web, status="pending")
    make_rule(owner, mail, name="Everything → on-call", events=["down", "recovered"])
    make_rule(
        owner,
        hook,
        name="Production",
        scope="tag",
        tags=["prod"],
        events=["down", "degraded", "flapping"],
        repeat_minutes=30,
        channels=[str(hook.id), str(mail.id)],
    )
    make_window(
        owner,
        name="Database upgrade",
        starts_at=now - timedelta(minutes=10),
        ends_at=now + timedelta(hours=2),
        timezone="Europe/Berlin",
    )
    make_window(
        owner,
        name="Weekly backup",
        cron="0 3 * * 0",
        duration_minutes=90,
        timezone="America/New_York",
        all_monitors=False,
        monitors=[str(web.id)],
    )
    make_window(
        owner,
        name="Last quarter's migration",
        starts_at=now - timedelta(days=40),
        ends_at=now - timedelta(days=39),
    )
    make_key(owner, "Terraform CI", ("read", "write"))
    used = make_key(owner, "web-01 metrics agent", ("ingest",))
    ApiKey.all_orgs.filter(id=used.id).update(
        last_used_at=now - timedelta(minutes=3), last_used_ip="203.0.113.7"
    )
    return {"hook": hook, "mail": mail, "dead": dead, "api": api}


def test_every_admin_screen_renders_cleanly_in_both_themes_and_on_a_phone(
    owner: Member, server: str, browser: Any, hooks: HookReceiver
) -> None:
    data = seed(owner, hooks)
    rule = AlertRule.all_orgs.filter(org_id=owner.org.id, name="Production").get()
    pages = {
        "channels": "/notify/channels/",
        "channel-detail": f"/notify/channels/{data['hook'].id}/",
        "channel-new": "/notify/channels/new?kind=webhook",
        "channel-edit": f"/notify/channels/{data['mail'].id}/edit",
        "deliveries": "/notify/deliveries/",
        "dead-letters": "/notify/deliveries/?status=dead",
        "rules": "/alerts/rules/",
        "rule-edit": f"/alerts/rules/{rule.id}/edit",
        "maintenance": "/alerts/maintenance/",
        "maintenance-new": "/alerts/maintenance/new",
        "api-keys": "/settings/api-keys",
        "audit": "/settings/audit",
        "org-settings": "/settings/org",
    }
    shots = ARTIFACTS / "screens"
    shots.mkdir(parents=True, exist_ok=True)
    overflowing: list[tuple[str, str, str, int]] = []
    for theme in ("light", "dark"):
        for size, viewport in VIEWPORTS.items():
            context = browser.new_context(viewport=viewport, color_scheme=theme)
            page = context.new_page()
            problems = watch_console(page)
            log_in(page, server, owner)
            for name, path in pages.items():
                page.goto(server + path)
                page.wait_for_load_state("networkidle")
                if name == "audit":
                    page.click("details.json-details summary")  # one change set open
                page.screenshot(
                    path=str(shots / f"admin-{name}-{theme}-{size}.png"), full_page=True
                )
                overflow = page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                if overflow > 1:
                    overflowing.append((name, theme, size, overflow))
                # Tables fit their frame: no column (actions!) hides off to the right
                # behind a scrollbar, and stacked rows fit a phone.
                hidden = page.evaluate(
                    "Math.max(0, ...[...document.querySelectorAll('.table-wrap')]"
                    ".map(w => w.scrollWidth - w.clientWidth))"
                )
                if hidden > 1:
                    overflowing.append((f"{name} table", theme, size, hidden))
            context.close()
            assert problems == [], (theme, size, problems)
    assert overflowing == []


def test_a_channel_made_with_the_kind_picker_is_tested_from_the_browser(
    owner: Member, server: str, browser: Any, hooks: HookReceiver
) -> None:
    signing = whsec("browser-test")
    hooks.signing_secrets.append(signing)
    page = browser.new_page(viewport=VIEWPORTS["desktop"])
    problems = watch_console(page)
    log_in(page, server, owner)
    page.goto(f"{server}/notify/channels/new")
    assert page.locator("[name=config_to]").count() == 1  # e-mail first
    page.click("label.type-option:has(input[value=webhook])")
    page.wait_for_selector("input[name=secrets_url]")  # swapped in by htmx
    assert page.locator("[name=config_to]").count() == 0
    page.fill("input[name=name]", "Browser hook")
    page.fill("input[name=secrets_url]", "not a url")
    page.click("button:has-text('Create channel')")
    page.wait_for_selector("#id_secrets_url_error")
    page.fill("input[name=secrets_url]", hooks.url("ok", "browser"))
    page.fill("input[name=secrets_secret]", signing)
    page.click("button:has-text('Create channel')")
    page.wait_for_selector("text=Browser hook created")
    page.click("button:has-text('Send test')")
    page.wait_for_selector("text=Test sent (HTTP 200)")
    [hook] = [h for h in hooks.received if h.path_qs.endswith("/browser")]
    assert hook.verified is True
    page.screenshot(
        path=str(ARTIFACTS / "screens" / "admin-flow-channel-tested.png"), full_page=True
    )
    assert problems == []


def test_a_dead_letter_is_retried_and_an_api_key_created_in_the_browser(
    owner: Member, server: str, browser: Any, hooks: HookReceiver
) -> None:
    data = seed(owner, hooks)
    context = browser.new_context(viewport=VIEWPORTS["phone"])
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page = context.new_page()
    problems = watch_console(page)
    page.on("dialog", lambda dialog: dialog.accept())  # the data-confirm prompts
    log_in(page, server, owner)
    page.goto(f"{server}/notify/deliveries/?status=dead")
    page.click(f"#delivery-{data['dead'].id} button:has-text('Retry')")
    page.wait_for_selector("text=Retrying the recovered notice to Ops webhook")
    assert Notification.all_orgs.get(id=data["dead"].id).status in (
        "pending",
        "sending",
        "sent",
        "failed",
    )
    page.goto(f"{server}/settings/api-keys")
    page.fill("input[name=name]", "Browser key")
    page.check("input[name=scopes][value=write]")
    page.click("button:has-text('Create key')")
    page.wait_for_selector("text=shown only once")
    full_key = page.input_value("#new-api-key")
    assert full_key.startswith("pulse_")
    page.click("button[data-copy=new-api-key]")
    page.wait_for_selector("[data-copy-label]:has-text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == full_key
    page.screenshot(
        path=str(ARTIFACTS / "screens" / "admin-flow-key-created-phone.png"), full_page=True
    )
    page.click("text=I've copied it")
    assert full_key not in page.content()
    page.click("form[action$='/revoke'] button >> nth=0")
    page.wait_for_selector("text=requests with it are refused")
    context.close()
    assert problems == []


def test_a_rule_scoped_by_tag_shows_only_its_inputs(
    owner: Member, server: str, browser: Any, hooks: HookReceiver
) -> None:
    seed(owner, hooks)
    page = browser.new_page(viewport=VIEWPORTS["desktop"])
    problems = watch_console(page)
    log_in(page, server, owner)
    page.goto(f"{server}/alerts/rules/new")
    assert not page.is_visible(".scope-panel--tag") and not page.is_visible(".scope-panel--list")
    page.check("input[name=scope][value=tag]")
    assert page.is_visible(".scope-panel--tag") and not page.is_visible(".scope-panel--list")
    page.fill("input[name=name]", "Web team")
    page.check("input[name=tags][value=web]")
    page.check("input[name=events][value=degraded]")
    page.check("input[name=channels] >> nth=0")
    page.click("button:has-text('Create rule')")
    page.wait_for_selector("text=Rule Web team created")
    rule = AlertRule.all_orgs.get(org_id=owner.org.id, name="Web team")
    assert rule.scope == "tag" and rule.tags == ["web"] and "degraded" in rule.events
    page.goto(f"{server}/alerts/maintenance/new")
    page.check("input[name=schedule][value=recurring]")
    assert not page.is_visible("input[name=starts_at]")
    page.fill("input[name=cron]", "15 4 * * 1")
    page.wait_for_selector(".cron-preview__list li")
    assert page.locator(".cron-preview__list li").count() == 3
    page.screenshot(path=str(ARTIFACTS / "screens" / "admin-flow-cron-preview.png"), full_page=True)
    assert problems == []
