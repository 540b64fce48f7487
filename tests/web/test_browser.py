"""The monitoring screens in Chromium against the live stack (daphne as a subprocess):
every page renders without console errors or CSP violations in light and dark, on a
desktop and a 390 px phone (screenshots in artifacts/screens/), and the dashboard
updates live: 50 status changes from real check cycles, each timed from its commit
to the DOM change (artifacts/realtime-latency.json; reported, never asserted)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from alerting.models import MonitorTransition
from monitors import events
from monitors.models import Monitor
from notifications.models import Channel, Notification
from pulse import tenancy
from pulse.db.checks import ResultRow
from tests.alerting.test_engine import cycle
from tests.conftest import PASSWORD, Member
from tests.live import ARTIFACTS, daphne
from tests.monitors.peers import WebPeer
from tests.web.conftest import incident_for, monitor_for, rollup

pytestmark = [pytest.mark.browser, pytest.mark.live]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
SAMPLES = 50


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Playwright's sync API keeps an event loop on this thread; the ORM calls the
    # tests make between page actions are still plain synchronous code.
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


def log_in(page: Any, base: str, member: Member) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", member.user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/app/")


def watch_console(page: Any) -> list[str]:
    """Console errors and uncaught exceptions (CSP violations are console errors).
    A form answered 400 on purpose is not a problem."""
    problems: list[str] = []

    def on_console(msg: Any) -> None:
        if msg.type == "error" and "status of 400" not in msg.text:
            problems.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems


def seed(owner: Member) -> dict[str, Any]:
    """A believable org: monitors in every state, history, an incident with a
    timeline and notifications, a heartbeat monitor."""
    api = monitor_for(owner, name="Checkout API", tags=["prod", "api"], latency_degraded_ms=400)
    monitors = [
        api,
        monitor_for(owner, name="Marketing site", target="https://example.com/", tags=["web"]),
        monitor_for(owner, type="tcp", target="db.internal:5432", name="Postgres primary"),
        monitor_for(owner, type="dns", target="example.com", name="DNS example.com"),
        monitor_for(owner, type="icmp", target="10.0.0.1", name="Edge router"),
        monitor_for(owner, type="push", target="", name="Nightly backup"),
    ]
    statuses = ["down", "up", "up", "degraded", "paused", "pending"]
    now = timezone.now()
    for monitor, status, latency in zip(monitors, statuses, [0, 118, 3.2, 21, 0, 0], strict=True):
        Monitor.all_orgs.filter(id=monitor.id).update(
            status=status,
            paused=status == "paused",
            last_latency_ms=latency or None,
            last_check_at=None if status == "pending" else now - timedelta(seconds=20),
            last_outcome="" if status == "pending" else "ok",
        )
    for minutes in range(0, 60 * 24, 7):
        failing = 300 < minutes < 340
        rollup(
            owner,
            api,
            ago=timedelta(minutes=minutes),
            failures=1 if failing else 0,
            latency=None if failing else 180 + (minutes * 37 % 160),
        )
        if minutes < 60:
            rollup(owner, monitors[1], ago=timedelta(minutes=minutes), latency=90 + minutes % 40)
    incident = incident_for(owner, api)
    with tenancy.org_context(owner.org.id):
        MonitorTransition.objects.create(
            monitor=api, from_status="up", to_status="degraded", reason="status 502"
        )
        MonitorTransition.objects.create(
            monitor=api, from_status="degraded", to_status="down", reason="status 502"
        )
        channel = Channel.objects.create(
            kind="webhook", name="Ops webhook", config={"url": "https://hooks.example/x"}
        )
        Notification.objects.create(
            idempotency_key="a" * 64,
            channel=channel,
            incident=incident,
            monitor=api,
            event_id=incident.id,
            event="down",
            status="sent",
            attempts=1,
            sent_at=now,
        )
        Notification.objects.create(
            idempotency_key="b" * 64,
            channel=channel,
            incident=incident,
            monitor=api,
            event_id=incident.id,
            event="down",
            status="failed",
            attempts=3,
            last_error="HTTP 503 from hooks.example",
        )
    return {"api": api, "push": monitors[-1], "incident": incident}


def test_every_screen_renders_cleanly_in_both_themes_and_on_a_phone(
    owner: Member, server: str, browser: Any
) -> None:
    data = seed(owner)
    pages = {
        "dashboard": "/app/",
        "monitors": "/monitors/",
        "monitor-detail": f"/monitors/{data['api'].id}/",
        "monitor-push": f"/monitors/{data['push'].id}/",
        "monitor-new": "/monitors/new",
        "monitor-edit": f"/monitors/{data['api'].id}/edit",
        "incidents": "/incidents/",
        "incident-detail": f"/incidents/{data['incident'].id}/",
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
                if name in ("dashboard", "monitors", "monitor-detail", "incidents"):
                    page.wait_for_selector("[data-live-socket]:not(.live--off)")
                page.screenshot(path=str(shots / f"{name}-{theme}-{size}.png"), full_page=True)
                # Nothing overflows sideways, on a phone either.
                overflow = page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                if overflow > 1:
                    overflowing.append((name, theme, size, overflow))
            context.close()
            assert problems == [], (theme, size, problems)
    assert overflowing == []


def test_the_type_picker_swaps_fields_and_errors_show_in_the_browser(
    owner: Member, server: str, browser: Any
) -> None:
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    problems = watch_console(page)
    log_in(page, server, owner)
    page.goto(f"{server}/monitors/new")
    page.check("input[name=type][value=metric]", force=True)
    page.wait_for_selector("input[name=config_host]")
    assert page.locator("input[name=target]").count() == 0
    page.fill("input[name=name]", "CPU web-1")
    page.click("button[type=submit]:has-text('Create monitor')")
    page.wait_for_selector("#id_config_host_error")
    assert "host name the agent reports" in page.inner_text("#id_config_host_error")
    page.fill("input[name=config_host]", "web-1")
    page.fill("input[name=config_metric]", "cpu.usage")
    page.fill("input[name=config_threshold]", "90")
    page.click("button[type=submit]:has-text('Create monitor')")
    page.wait_for_url("**/monitors/*/")
    assert "CPU web-1 created" in page.inner_text("main")
    context.close()
    assert problems == []


def test_search_swaps_the_table_and_bulk_pause_works(
    owner: Member, server: str, browser: Any
) -> None:
    names = ["Alpha API", "Beta API", "Gamma DB"]
    monitors = [monitor_for(owner, name=name) for name in names]
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    problems = watch_console(page)
    log_in(page, server, owner)
    page.goto(f"{server}/monitors/")
    page.fill("#monitor-search", "api")
    page.locator("#monitor-table >> text=Gamma DB").wait_for(state="detached")
    assert "q=api" in page.url  # pushed to the history
    page.select_option("#filter-type", "http")  # another filter, through its own hx-get
    page.wait_for_url("**type=http**")
    page.check("[data-select-all]")
    assert page.locator("input[name=ids]:checked").count() == 2
    assert page.inner_text("[data-selected-count]") == "2 selected"
    page.click("button[value=pause]")
    page.wait_for_selector(".flash--success")
    assert "Paused 2 monitors" in page.inner_text(".flashes")
    paused = set(Monitor.all_orgs.filter(paused=True).values_list("name", flat=True))
    assert paused == {"Alpha API", "Beta API"} and len(monitors) == 3
    context.close()
    assert problems == []


def test_the_dashboard_updates_live_within_a_second(
    owner: Member, server: str, browser: Any, web: WebPeer
) -> None:
    import pulse.realtime  # noqa: F401  (this process records results: it publishes)

    # The probes run their own event loop (asyncio.run), which cannot nest inside
    # Playwright's: check cycles run on a worker thread.
    worker = ThreadPoolExecutor(max_workers=1)

    def run_cycle(monitor: Monitor) -> str:
        return worker.submit(cycle, monitor).result(timeout=30)

    web.set_failing(False)
    monitor = monitor_for(owner, name="Live target", target=web.url("/toggle"))
    # Every result flips the status: one ok is up again, no result ever confirms down.
    Monitor.all_orgs.filter(id=monitor.id).update(
        recover_threshold=1, fail_threshold=1000, down_ratio=1.0
    )
    assert run_cycle(monitor) == "up"

    commits: list[float] = []

    def stamp(rows: Any) -> None:
        if any(isinstance(r, ResultRow) and r.monitor_id == monitor.id for r in rows):
            commits.append(time.time() * 1000)

    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    problems = watch_console(page)
    log_in(page, server, owner)
    page.wait_for_selector("[data-live-socket]:not(.live--off)")
    page.evaluate(
        """(id) => {
            window.__changes = [];
            const el = document.getElementById(id);
            new MutationObserver(() => window.__changes.push(
                {t: Date.now(), text: el.textContent.trim()})
            ).observe(el, {childList: true, subtree: true, characterData: true});
        }""",
        f"monitor-{monitor.id}-status",
    )
    events.on_after_commit(stamp)
    latencies: list[float] = []
    try:
        for i in range(SAMPLES):
            failing = i % 2 == 0
            web.set_failing(failing)
            expected = "Degraded" if failing else "Up"
            assert run_cycle(monitor) == expected.lower()
            page.wait_for_function(
                "([n, text]) => window.__changes.length > n "
                "&& window.__changes[window.__changes.length - 1].text.includes(text)",
                arg=[i, expected],
                timeout=60_000,  # reported above, never asserted: only a generous cap
            )
            changes = page.evaluate("window.__changes")
            seen = next(c for c in changes[i:] if expected in c["text"])
            latencies.append(seen["t"] - commits[-1])
            # Space the changes beyond the 250 ms coalescing window: each one is
            # measured on its own rather than as part of a burst.
            time.sleep(0.3)
    finally:
        events._after_commit.remove(stamp)
        web.set_failing(False)
        context.close()
        worker.submit(connections.close_all).result()
        worker.shutdown()
    assert len(latencies) == SAMPLES
    assert problems == []
    ordered = sorted(latencies)
    report = {
        "what": "check result committed -> dashboard status cell changed (ms)",
        "samples": len(ordered),
        "p50_ms": round(ordered[len(ordered) // 2], 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
        "max_ms": round(ordered[-1], 1),
        "min_ms": round(ordered[0], 1),
        "goal": "p99 <= 1000 ms (SPEC §5)",
        "latencies_ms": [round(v, 1) for v in latencies],
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "realtime-latency.json").write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\nrealtime latency: p50 {report['p50_ms']} ms, p99 {report['p99_ms']} ms, "
        f"max {report['max_ms']} ms over {report['samples']} changes"
    )
