"""The web app's workflows (issue "Web app", deliverable 5; SPEC §10, INV-11), each to
its terminal step in Chromium against the real stack: daphne, Celery workers and beat
running real check cycles and a real notifier (see conftest.py). Nothing here reloads
a page to see a change that the app promises to show live.

Monitors are created through the UI (or the service helper) and then made to check
every 2 s with a 1 s timeout, below the product's 10 s minimum, by writing the
monitor row directly (``speed_up``), so a confirmed down takes seconds.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Membership, Role
from monitors.models import Monitor
from notifications.models import Channel, Notification
from pulse import tenancy
from tests.browser.conftest import (
    LIVE_TIMEOUT_MS,
    Ui,
    csrf_token,
    mails_to,
    shot,
    speed_up,
    text_of,
    unique_email,
    wait_until,
)
from tests.conftest import PASSWORD, make_owner
from tests.monitors.peers import WebPeer
from tests.notifications.peers import HookReceiver
from tests.web.conftest import monitor_for
from tests.web_admin.conftest import make_channel, outbox_row, whsec

pytestmark = [pytest.mark.browser, pytest.mark.live]

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
LOCKED = "Too many failed attempts: this account is locked for a while."
INVALID = "That e-mail and password do not match an account."


def ends_with(word: str) -> re.Pattern[str]:
    """A status badge's text: a glyph, then the word (and maybe a newline)."""
    return re.compile(rf"{word}\s*$")


def id_in(url: str, kind: str) -> str:
    match = re.search(rf"/{kind}/({UUID})/", url)
    assert match, url
    return match.group(1)


def record_statuses(page: Page, element_id: str) -> None:
    """Keep every text the status cell shows (the socket swaps its inner HTML), so the
    test can check the sequence, not just the last state."""
    page.evaluate(
        """(id) => {
            const el = document.getElementById(id);
            window.__statuses = [];
            const note = () => {
                const text = el.textContent.replace(/[^A-Za-z]/g, "");
                const seen = window.__statuses;
                if (seen[seen.length - 1] !== text) seen.push(text);
            };
            note();
            new MutationObserver(note).observe(
                el, {childList: true, subtree: true, characterData: true});
        }""",
        element_id,
    )


# ------------------------------------------------------------------ 1


def test_sign_up_watch_a_monitor_go_down_live_and_handle_its_incident(ui: Ui, web: WebPeer) -> None:
    web.set_failing(False)
    founder = unique_email("founder")
    watched = ui.page()
    page = watched.page

    # Landing -> sign up.
    page.goto(ui.url("/"))
    expect(page.locator("h1")).to_contain_text("Monitoring that never cries wolf")
    page.click("a:has-text('Start monitoring')")
    page.wait_for_url(ui.url("/signup"))
    page.fill("input[name=name]", "Fay Founder")
    page.fill("input[name=email]", founder)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=org_name]", "Founders Inc")
    page.click("button:has-text('Create account')")
    page.wait_for_url(ui.url("/app/"))
    expect(page.locator(".flashes")).to_contain_text("Welcome to Pulse")
    expect(page.locator("#org-switch-select option:checked")).to_have_text("Founders Inc")
    expect(page.locator(".role-pill")).to_have_text("Owner")

    # An HTTP monitor against the local target, through the monitor form.
    page.click(".page-actions a:has-text('New monitor')")
    page.wait_for_url(ui.url("/monitors/new"))
    page.fill("input[name=name]", "Toggle API")
    page.fill("input[name=target]", web.url("/toggle"))
    page.click("button[type=submit]:has-text('Create monitor')")
    page.wait_for_url(re.compile(rf"/monitors/{UUID}/$"))
    expect(page.locator(".flashes")).to_contain_text("Toggle API created")
    monitor_id = id_in(page.url, "monitors")
    status = page.locator(f"#monitor-{monitor_id}-status")
    page.wait_for_selector("[data-live-socket]:not(.live--off)")
    record_statuses(page, f"monitor-{monitor_id}-status")

    # The incidents list, open in a second tab, must show the incident live too.
    incidents = ui.page(context=page.context)
    incidents.page.goto(ui.url("/incidents/"))
    expect(incidents.page.locator("#incidents-table")).to_contain_text("No incidents yet")
    incidents.page.wait_for_selector("[data-live-socket]:not(.live--off)")

    speed_up(monitor_id)  # 2 s interval, 1 s timeout: below the product minimum
    expect(status).to_have_text(ends_with("Up"), timeout=LIVE_TIMEOUT_MS)
    # The live region re-fetches itself: the recent checks table fills in.
    expect(page.locator("#monitor-live table")).to_contain_text("OK", timeout=LIVE_TIMEOUT_MS)
    shot(page, "1-monitor-up")

    web.set_failing(True)
    try:
        expect(status).to_have_text(ends_with("Down"), timeout=LIVE_TIMEOUT_MS)
        incident_link = page.locator("#monitor-incidents a.table__primary")
        expect(incident_link).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
        expect(incident_link).to_have_text("Toggle API is down")
        expect(page.locator("#monitor-live table")).to_contain_text("Failed")
        rows = incidents.page.locator("#incidents-table tbody tr")
        expect(rows).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
        expect(rows.first).to_contain_text("Toggle API is down")
        expect(rows.first).to_contain_text("Open")
        seen = page.evaluate("window.__statuses")
        # Up, then Degraded, then Down, in that order (a probe that timed out on a busy
        # machine may add an earlier Degraded: a subsequence, not first occurrences).
        rest = iter(seen)
        in_order = all(any(s == wanted for s in rest) for wanted in ("Up", "Degraded", "Down"))
        assert in_order, seen
        shot(page, "1-monitor-down")
        shot(incidents.page, "1-incidents-live")

        # Open the incident -> acknowledge -> resolve.
        incident_link.click()
        page.wait_for_url(re.compile(rf"/incidents/{UUID}/$"))
        state = page.locator("#incident-live .card__header .badge")
        expect(state).to_have_text("Open")
        timeline = page.locator("#incident-live .timeline__item")
        expect(timeline.first).to_contain_text("Opened")
        expect(timeline.first).to_contain_text("Pulse (state machine)")
        page.click("#incident-live button:has-text('Acknowledge')")
        expect(page.locator(".flashes")).to_contain_text("Acknowledged: repeat notifications")
        expect(state).to_have_text("Acknowledged")
        expect(page.locator("#incident-live")).to_contain_text(f"by {founder}")
        page.click("#incident-live button:has-text('Resolve')")  # confirm() accepted
        expect(page.locator(".flashes")).to_contain_text("Resolved.")
        expect(state).to_have_text("Resolved")
    finally:
        web.set_failing(False)
    entries = [" ".join(text.split()) for text in timeline.all_inner_texts()]
    expected = [
        ("Opened", "Pulse (state machine)"),
        ("Acknowledged", founder),
        ("Resolved", founder),
    ]
    position = -1
    for kind, actor in expected:
        matches = [i for i, entry in enumerate(entries) if entry.startswith(f"{kind} · {actor}")]
        assert matches, (kind, actor, entries)
        assert matches[0] > position, entries
        position = matches[0]
    expect(page.locator("#incident-live button")).to_have_count(0)  # nothing left to do
    shot(page, "1-incident-resolved")
    assert watched.problems == []
    assert incidents.problems == []


# ------------------------------------------------------------------ 2


def test_a_webhook_channel_is_tested_and_a_real_alert_reaches_the_delivery_log(
    ui: Ui, web: WebPeer, hooks: HookReceiver
) -> None:
    owner = make_owner(unique_email("alerts"), "Alerting Org")
    tag = uuid.uuid4().hex[:8]
    signing = whsec(tag)
    hooks.signing_secrets.append(signing)
    watched = ui.page()
    page = watched.page
    ui.log_in(page, owner.user.email)

    # Channel through the kind picker.
    page.goto(ui.url("/notify/channels/new"))
    page.click("label.type-option:has(input[value=webhook])")
    page.wait_for_selector("input[name=secrets_url]")
    page.fill("input[name=name]", "Ops webhook")
    page.fill("input[name=secrets_url]", hooks.url("ok", f"wf2-{tag}"))
    page.fill("input[name=secrets_secret]", signing)
    page.click("button:has-text('Create channel')")
    page.wait_for_url(re.compile(rf"/notify/channels/{UUID}/$"))
    expect(page.locator(".flashes")).to_contain_text("Ops webhook created")
    channel_id = id_in(page.url, "channels")

    # Send test: confirmed in a flash, and the signed request is at the receiver.
    page.click("button:has-text('Send test')")
    expect(page.locator(".flash--success")).to_contain_text("Test sent (HTTP 200)")
    [test_hook] = [h for h in hooks.received if h.path_qs == f"/ok/wf2-{tag}"]
    assert test_hook.verified is True
    assert test_hook.json()["type"] == "test"
    shot(page, "2-channel-tested")

    # An alert rule for every monitor, to this channel.
    page.goto(ui.url("/alerts/rules/new"))
    page.fill("input[name=name]", "Page the ops hook")
    page.check(f"input[name=channels][value='{channel_id}']")
    assert page.is_checked("input[name=events][value=down]")  # the default events
    page.click("button:has-text('Create rule')")
    expect(page.locator(".flashes")).to_contain_text("Rule Page the ops hook created")

    # The delivery log is empty until a real alert.
    page.goto(ui.url("/notify/deliveries/"))
    expect(page.locator("#delivery-table")).to_contain_text("Nothing delivered yet")

    failing = monitor_for(owner, name="Always failing", target=web.url("/fail"))
    speed_up(failing.id)

    def down_sent() -> bool:
        return Notification.all_orgs.filter(
            channel_id=channel_id, event="down", status="sent"
        ).exists()

    wait_until(down_sent, timeout=LIVE_TIMEOUT_MS / 1000, what="the down notice to be sent")
    page.click("#delivery-table button:has-text('Refresh')")  # HTMX swap, not a reload
    row = page.locator("#delivery-table tbody tr")
    expect(row).to_have_count(1)
    expect(row.first).to_contain_text("down")
    expect(row.first).to_contain_text("Always failing")
    expect(row.first).to_contain_text("Ops webhook")
    expect(row.first.locator("td[data-label=Status]")).to_have_text(ends_with("Sent"))
    shot(page, "2-delivery-log")
    alerts = [
        h for h in hooks.received if h.path_qs == f"/ok/wf2-{tag}" and h.json()["type"] != "test"
    ]
    assert [h.json()["type"] for h in alerts] == ["monitor.down"]
    assert alerts[0].verified is True
    assert alerts[0].json()["monitor"]["name"] == "Always failing"

    # The incident says whom it notified.
    page.click("#delivery-table a:has-text('Always failing')")
    page.locator("#monitor-incidents a.table__primary").first.click()
    page.wait_for_url(re.compile(rf"/incidents/{UUID}/$"))
    notified = page.locator("#incident-live table")
    expect(notified).to_contain_text("Ops webhook")
    expect(notified).to_contain_text("Sent")
    expect(page.locator("#incident-live .timeline")).to_contain_text("Pulse (notifier)")
    assert watched.problems == []


# ------------------------------------------------------------------ 3


def test_a_dead_notification_is_retried_from_the_screen_after_fixing_the_channel(
    ui: Ui, hooks: HookReceiver
) -> None:
    owner = make_owner(unique_email("deadletters"), "Dead Letter Org")
    tag = uuid.uuid4().hex[:8]
    channel = make_channel(
        owner, name="Strict receiver", secrets={"url": hooks.url("bad", f"wf3-{tag}")}
    )
    api = monitor_for(owner, name="Billing API")
    Monitor.all_orgs.filter(id=api.id).update(paused=True)  # only its name is needed
    # An outbox row as the engine writes it; the stack's notifier (swept every 2 s)
    # delivers it, and the receiver's HTTP 400 is permanent: dead at once.
    row = outbox_row(owner, channel, monitor=api)
    wait_until(
        lambda: Notification.all_orgs.get(id=row.id).status == "dead",
        timeout=30,
        what="the notifier to give up on the HTTP 400",
    )
    assert [h.mode for h in hooks.received if h.path_qs == f"/bad/wf3-{tag}"] == ["bad"]

    watched = ui.page()
    page = watched.page
    ui.log_in(page, owner.user.email)
    page.click("nav a.nav-link:has-text('Channels')")
    page.click("nav[aria-label='Notification sections'] a:has-text('Dead letters')")
    page.wait_for_url("**/notify/deliveries/?status=dead")
    dead = page.locator(f"#delivery-{row.id}")
    expect(dead.locator("td[data-label=Status]")).to_have_text(ends_with("Dead"))
    expect(dead.locator("td[data-label='Last error']")).to_contain_text("HTTP 400 from 127.0.0.1")
    shot(page, "3-dead-letter")

    # Fix the channel through its edit screen: point it at a receiver that accepts.
    dead.locator("td[data-label=Channel] a").click()
    page.wait_for_url(f"**/notify/channels/{channel.id}/")
    page.click(".page-actions a:has-text('Edit')")
    page.wait_for_url(f"**/notify/channels/{channel.id}/edit")
    page.fill("input[name=secrets_url]", hooks.url("ok", f"wf3-{tag}"))
    page.click("button:has-text('Save changes')")
    expect(page.locator(".flashes")).to_contain_text("Saved Strict receiver.")
    expect(page.locator("main .kv")).to_contain_text(f"127.0.0.1:{hooks.port}/ok/")

    # Retry the dead row from the dead letters.
    page.goto(ui.url("/notify/deliveries/?status=dead"))
    page.click(f"#delivery-{row.id} button:has-text('Retry')")
    expect(page.locator(".flashes")).to_contain_text("Retrying the down notice to Strict receiver")
    wait_until(
        lambda: Notification.all_orgs.get(id=row.id).status == "sent",
        timeout=30,
        what="the retried notice to be sent",
    )
    page.click("nav[aria-label='Notification sections'] a:has-text('Delivery log')")
    sent = page.locator(f"#delivery-{row.id}")
    expect(sent.locator("td[data-label=Status]")).to_have_text(ends_with("Sent"))
    expect(sent.locator("td[data-label=Attempts]")).to_have_text("1")
    expect(sent.locator("td[data-label='Last error']")).to_have_text("—")
    expect(sent.locator("button:has-text('Retry')")).to_have_count(0)
    shot(page, "3-retried-sent")
    assert [h.mode for h in hooks.received if h.path_qs.endswith(f"/wf3-{tag}")] == [
        "bad",
        "ok",
    ]
    assert watched.problems == []


# ------------------------------------------------------------------ 4


def test_an_invited_viewer_signs_up_from_the_email_and_cannot_edit(ui: Ui) -> None:
    owner = make_owner(unique_email("inviter"), "Inviting Org")
    api = monitor_for(owner, name="Public API")
    Monitor.all_orgs.filter(id=api.id).update(paused=True)
    channel = make_channel(owner, name="Team hook")
    invitee = unique_email("invitee")

    admin = ui.page()
    ui.log_in(admin.page, owner.user.email)
    admin.page.click("nav a.nav-link:has-text('Team & settings')")
    invite = admin.page.locator("form[action$='/settings/team']")
    invite.locator("input[name=email]").fill(invitee)
    invite.locator("select[name=role]").select_option("viewer")
    invite.locator("button:has-text('Send invitation')").click()
    expect(admin.page.locator(".flashes")).to_contain_text(f"Invitation sent to {invitee}")
    expect(admin.page.locator("main")).to_contain_text(invitee)  # pending invitations
    shot(admin.page, "4-invitation-sent")

    # The worker sends the e-mail (file-based backend in tests); its link is the way in.
    wait_until(lambda: bool(mails_to(invitee)), timeout=30, what="the invitation e-mail")
    [mail] = mails_to(invitee)
    assert "Inviting Org" in str(mail["subject"]) or "Inviting Org" in text_of(mail)
    match = re.search(r"https?://[^/\s]+(/invitations/[A-Za-z0-9_\-]+)", text_of(mail))
    assert match, text_of(mail)

    guest = ui.page()
    page = guest.page
    page.goto(ui.url(match.group(1)))
    expect(page.locator("h1")).to_have_text("Join Inviting Org")
    expect(page.locator(".auth__lead")).to_contain_text("as Viewer")
    shot(page, "4-invitation")
    page.click("a:has-text('Create account')")
    page.wait_for_url("**/signup?invite=*")
    expect(page.locator(".invite-banner")).to_contain_text("joining Inviting Org as viewer")
    expect(page.locator("input[name=email]")).to_have_value(invitee)
    page.fill("input[name=name]", "Vic Viewer")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=org_name]", "Vic's sandbox")
    page.click("button:has-text('Create account')")
    page.wait_for_url(ui.url("/app/"))
    expect(page.locator("#org-switch-select option:checked")).to_have_text("Inviting Org")
    expect(page.locator(".role-pill")).to_have_text("Viewer")
    with tenancy.org_context(owner.org.id):
        membership = Membership.objects.get(user__email=invitee)
    assert membership.role == Role.VIEWER

    # As the viewer: the lists and detail pages offer nothing to change.
    expect(page.locator(".page-actions a:has-text('New monitor')")).to_have_count(0)
    page.click("nav a.nav-link:has-text('Monitors')")
    expect(page.locator("main")).to_contain_text("Public API")
    expect(page.locator("a:has-text('New monitor')")).to_have_count(0)
    expect(page.locator("input[name=ids]")).to_have_count(0)  # no bulk pause
    page.click("main a:has-text('Public API')")
    page.wait_for_url(f"**/monitors/{api.id}/")
    actions = page.locator(".page-actions")
    expect(actions.locator("a:has-text('Edit'), button")).to_have_count(0)
    page.click("nav a.nav-link:has-text('Channels')")
    expect(page.locator("main")).to_contain_text("Team hook")
    expect(page.locator("main").locator("text=New channel")).to_have_count(0)
    expect(page.locator("main button, main a:has-text('Edit')")).to_have_count(0)
    page.click("main a:has-text('Team hook')")
    expect(page.locator(".page-actions").locator("button, a")).to_have_count(0)
    shot(page, "4-viewer-channel")

    # Going around the UI: the edit URLs answer 403 (or 404), nothing changes.
    token = csrf_token(page)
    headers = {"X-CSRFToken": token, "Referer": ui.url("/monitors/")}
    forbidden = {
        "GET monitor edit": page.request.get(ui.url(f"/monitors/{api.id}/edit")),
        "POST monitor edit": page.request.post(
            ui.url(f"/monitors/{api.id}/edit"), headers=headers, form={"name": "Hacked"}
        ),
        "POST monitor delete": page.request.post(
            ui.url(f"/monitors/{api.id}/delete"), headers=headers
        ),
        "POST monitor resume": page.request.post(
            ui.url(f"/monitors/{api.id}/resume"), headers=headers
        ),
        "GET channel edit": page.request.get(ui.url(f"/notify/channels/{channel.id}/edit")),
        "POST channel test": page.request.post(
            ui.url(f"/notify/channels/{channel.id}/test"), headers=headers
        ),
        "GET new monitor": page.request.get(ui.url("/monitors/new")),
    }
    statuses = {name: response.status for name, response in forbidden.items()}
    assert all(code in (403, 404) for code in statuses.values()), statuses
    # And in the browser, the refusal is a proper page.
    guest.allow(403, f"/monitors/{api.id}/edit")
    response = page.goto(ui.url(f"/monitors/{api.id}/edit"))
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("Access denied")
    shot(page, "4-viewer-403")
    fresh = Monitor.all_orgs.get(id=api.id)
    assert fresh.name == "Public API" and fresh.paused is True
    assert Channel.all_orgs.filter(id=channel.id).exists()
    assert admin.problems == []
    assert guest.problems == []


# ------------------------------------------------------------------ 5


def test_the_org_switcher_shows_the_other_orgs_monitors(ui: Ui) -> None:
    mine = make_owner(unique_email("switcher"), "Home Org")
    other = make_owner(unique_email("neighbour"), "Neighbour Org")
    with tenancy.org_context(other.org.id):
        Membership.objects.create(org=other.org, user=mine.user, role=Role.OPERATOR)
    home_monitor = monitor_for(mine, name="Home checkout")
    away_monitor = monitor_for(other, name="Neighbour billing")
    Monitor.all_orgs.filter(id__in=[home_monitor.id, away_monitor.id]).update(paused=True)

    watched = ui.page()
    page = watched.page
    ui.log_in(page, mine.user.email)
    grid = page.locator("main")
    expect(page.locator("#org-switch-select option:checked")).to_have_text("Home Org")
    expect(grid).to_contain_text("Home checkout")
    expect(grid).not_to_contain_text("Neighbour billing")

    page.select_option("#org-switch-select", label="Neighbour Org")  # submits on change
    expect(page.locator(".flashes")).to_contain_text("Switched to Neighbour Org.")
    expect(page).to_have_url(ui.url("/app/"))
    expect(page.locator("#org-switch-select option:checked")).to_have_text("Neighbour Org")
    expect(page.locator(".role-pill")).to_have_text("Operator")
    expect(grid).to_contain_text("Neighbour billing")
    expect(grid).not_to_contain_text("Home checkout")
    page.click("nav a.nav-link:has-text('Monitors')")
    expect(page.locator("main")).to_contain_text("Neighbour billing")
    expect(page.locator("main")).not_to_contain_text("Home checkout")
    shot(page, "5-switched-org")

    # And back.
    page.select_option("#org-switch-select", label="Home Org")
    expect(page.locator(".flashes")).to_contain_text("Switched to Home Org.")
    expect(grid).to_contain_text("Home checkout")
    expect(grid).not_to_contain_text("Neighbour billing")
    assert watched.problems == []


# ------------------------------------------------------------------ 6


def test_after_logging_out_protected_pages_send_to_the_login(ui: Ui) -> None:
    owner = make_owner(unique_email("leaver"), "Leaving Org")
    watched = ui.page()
    page = watched.page
    ui.log_in(page, owner.user.email)
    page.click("summary.menu__trigger")
    page.click(".menu__panel button:has-text('Log out')")
    page.wait_for_url(ui.url("/"))
    expect(page.locator(".hero__actions").first).to_contain_text("Log in")  # signed out
    for path in ("/app/", "/monitors/", "/incidents/", "/notify/channels/", "/settings/team"):
        page.goto(ui.url(path))
        expect(page).to_have_url(re.compile(rf"/login\?next={re.escape(path)}$"))
        expect(page.locator("h1")).to_have_text("Log in to Pulse")
    shot(page, "6-logged-out")
    # Logging in again lands where the user was heading.
    page.fill("input[name=email]", owner.user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(ui.url("/settings/team"))
    assert watched.problems == []


# ------------------------------------------------------------------ 7


def test_five_wrong_passwords_lock_the_login_with_the_same_words_for_any_address(
    ui: Ui,
) -> None:
    owner = make_owner(unique_email("forgetful"), "Locked Org")
    nobody = unique_email("nobody")
    watched = ui.page()
    page = watched.page
    shown: dict[str, list[str]] = {}
    for address in (owner.user.email, nobody):
        page.goto(ui.url("/login"))
        texts = []
        for attempt in range(5):
            page.fill("input[name=email]", address)
            page.fill("input[name=password]", f"wrong-password-{attempt}")
            page.click("form button[type=submit]")
            page.wait_for_load_state()
            texts.append(page.inner_text(".form-error"))
        shown[address] = texts
    assert shown[owner.user.email] == shown[nobody], shown
    texts = shown[nobody]
    assert all(INVALID in text for text in texts[:4]), texts
    assert LOCKED in texts[4], texts
    shot(page, "7-locked")
    # The right password does not get through while locked.
    page.fill("input[name=email]", owner.user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    expect(page.locator(".form-error")).to_contain_text(LOCKED)
    assert "/login" in page.url
    assert watched.problems == []
