"""The browser workflows run against ONE real stack per module: daphne, a Celery worker
for the ``checks`` queue (thread pool, as in production), one for
``default,alerts,notifications`` and Celery beat, all subprocesses on the test database
and Redis db (tests/live.py). Chromium is driven through Playwright (the system
/usr/bin/chromium; never ``playwright install``).

With ``PULSE_BROWSER_BASE_URL`` set (``make smoke`` does), the workflows run against that
already running stack instead (there: nginx over HTTPS/WSS with production settings, on
the same database): no daphne or workers are started, the database is neither migrated
nor emptied here (the stack's owner does both), the browser accepts the stack's
self-signed certificate, and with ``PULSE_BROWSER_HOOK_CERT`` (a PEM key and chain the
stack trusts) the webhook receiver serves HTTPS, since production refuses http:// hooks.

Because the stack outlives each test, two things differ from the rest of the suite:

- the database is not emptied after every test (``live_db`` would TRUNCATE under the
  running workers and wipe beat's schedule); each test makes its own org with unique
  e-mails instead, and the module empties the tables once the stack has stopped;
- the root conftest's ``_clean_cache`` is overridden: ``cache.clear()`` is Redis
  FLUSHDB, which would also delete the Celery broker's queues and bindings living in
  the same Redis db. Only the cache's own keys (rate limits, lockouts) are deleted.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, Response

from monitors.models import Monitor
from smoke.peers import TlsHookReceiver
from tests import live
from tests.conftest import PASSWORD, truncate_all
from tests.notifications.peers import HookReceiver

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
SCREENS = live.ARTIFACTS / "screens"
MAIL_DIR = Path(settings.EMAIL_FILE_PATH)
# Generous: the check cycle is real (2 s interval, 3 failures in a row to go down).
LIVE_TIMEOUT_MS = 30_000
# An already running stack to drive instead of starting one (see the module docstring).
EXTERNAL_BASE = os.environ.get("PULSE_BROWSER_BASE_URL", "").strip().rstrip("/")
HOOK_CERT = os.environ.get("PULSE_BROWSER_HOOK_CERT", "").strip()


# ------------------------------------------------------------------ database, cache


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    """Overrides tests/conftest.py's: delete only the cache's keys, never FLUSHDB (the
    live stack's broker queues share the Redis db)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        keys = list(client.scan_iter(match=cache.make_key("*"), count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
    yield


if EXTERNAL_BASE:

    @pytest.fixture(scope="session")
    def django_db_setup() -> None:
        """The external stack migrated its database and runs on it: truncating here
        would also delete beat's schedule under the running beat."""


@pytest.fixture(autouse=True)
def _db(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Real commits, visible to the stack's processes (no test transaction)."""
    with django_db_blocker.unblock():
        yield


# ------------------------------------------------------------------ the live stack


@contextmanager
def celery_worker(
    name: str, *, queues: str, pool: str = "prefork", concurrency: int = 2
) -> Iterator[None]:
    """tests/live.worker with a pool choice (the checks queue runs on threads)."""
    node = f"{name}@pulse-test"
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "pulse",
        "worker",
        "-n",
        node,
        "-Q",
        queues,
        "-P",
        pool,
        "-c",
        str(concurrency),
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
    ]
    with live.process(f"worker-{name}", args, ready=live.celery_ping(node)):
        yield


@pytest.fixture(scope="module")
def stack(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """daphne + the two workers + beat for the whole module; yields daphne's base URL.
    Afterwards (stack stopped) the tables are emptied, as ``live_db`` would."""
    if EXTERNAL_BASE:
        yield EXTERNAL_BASE
        return
    try:
        with ExitStack() as procs:
            base = procs.enter_context(live.daphne())
            procs.enter_context(
                celery_worker("browser-checks", queues="checks", pool="threads", concurrency=4)
            )
            procs.enter_context(
                celery_worker("browser-jobs", queues="default,alerts,notifications")
            )
            procs.enter_context(live.beat())
            yield base
    finally:
        with django_db_blocker.unblock():
            for alias in connections:
                connections[alias].close()
            truncate_all()


@pytest.fixture(scope="module")
def hooks() -> Iterator[HookReceiver]:
    if HOOK_CERT:
        with TlsHookReceiver(Path(HOOK_CERT)) as tls_receiver:
            yield tls_receiver
        return
    with HookReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def browser(stack: str) -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop on this thread; the ORM calls the tests
    # make between page actions are plain synchronous code. Set only after the stack
    # started, so daphne and the workers never inherit it.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                yield chromium
            finally:
                chromium.close()


@pytest.fixture(autouse=True)
def _quiet_afterwards() -> Iterator[None]:
    """Monitors a test left running would keep the shared workers busy (and alerting)
    during the tests after it: pause them all once each test is done."""
    yield
    Monitor.all_orgs.filter(paused=False).update(paused=True)


# ------------------------------------------------------------------ pages


@dataclass
class Watched:
    """A page and what went wrong on it: console errors, uncaught exceptions (CSP
    violations are console errors), responses >= 400 and failed requests."""

    page: Page
    problems: list[str] = field(default_factory=list)
    # (status, url fragment) pairs that are expected, e.g. a viewer's 403.
    allowed: list[tuple[int, str]] = field(default_factory=list)

    def allow(self, status: int, url_part: str) -> None:
        self.allowed.append((status, url_part))

    def _allowed_status(self, status: int, url: str) -> bool:
        return any(status == s and part in url for s, part in self.allowed)

    def _on_console(self, msg: ConsoleMessage) -> None:
        if msg.type != "error":
            return
        # Chromium also logs each >= 400 response as a console error; an allowed one
        # (judged with its URL by _on_response) is not a problem here either.
        match = re.search(r"status of (\d{3})", msg.text)
        if match and any(int(match.group(1)) == s for s, _ in self.allowed):
            return
        self.problems.append(f"console: {msg.text} @ {msg.location.get('url', '')}")

    def _on_response(self, response: Response) -> None:
        if response.status >= 400 and not self._allowed_status(response.status, response.url):
            self.problems.append(f"HTTP {response.status} {response.url}")

    def _on_failed(self, request: Request) -> None:
        failure = request.failure or ""
        # Navigating away aborts pending requests (and the page's websocket): not a bug.
        if "ERR_ABORTED" in failure:
            return
        self.problems.append(f"request failed: {request.url} {failure}")

    def start(self) -> Watched:
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))
        self.page.on("response", self._on_response)
        self.page.on("requestfailed", self._on_failed)
        return self


@dataclass
class Ui:
    """The browser against the live stack: contexts in a viewport and a theme, pages
    watched for errors, logging in."""

    base: str
    browser: Browser
    contexts: list[BrowserContext] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path

    def context(
        self, *, size: str = "desktop", theme: str = "light", state: Any = None
    ) -> BrowserContext:
        context = self.browser.new_context(
            viewport=VIEWPORTS[size],  # type: ignore[arg-type]
            color_scheme="dark" if theme == "dark" else "light",
            storage_state=state,
            ignore_https_errors=bool(EXTERNAL_BASE),
        )
        # The app's own switch: the theme the toggle saves in localStorage.
        context.add_init_script(
            f"try {{ localStorage.setItem('pulse-theme', '{theme}'); }} catch (e) {{}}"
        )
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        return context

    def page(
        self,
        *,
        size: str = "desktop",
        theme: str = "light",
        state: Any = None,
        context: BrowserContext | None = None,
    ) -> Watched:
        context = context or self.context(size=size, theme=theme, state=state)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())  # the data-confirm prompts
        return Watched(page).start()

    def log_in(self, page: Page, email_address: str, password: str = PASSWORD) -> None:
        page.goto(self.url("/login"))
        page.fill("input[name=email]", email_address)
        page.fill("input[name=password]", password)
        page.click("form button[type=submit]")
        page.wait_for_url(self.url("/app/"))

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.contexts.clear()


@pytest.fixture
def ui(stack: str, browser: Browser) -> Iterator[Ui]:
    driver = Ui(base=stack, browser=browser)
    try:
        yield driver
    finally:
        driver.close()


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as artifacts/screens/workflow-<name>.png."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"workflow-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# ------------------------------------------------------------------ helpers


def unique_email(tag: str) -> str:
    # Digits only: hex letters made some addresses "too similar" to the test password
    # (Django's similarity validator), refusing the sign-up once in a while.
    return f"{tag}-{uuid.uuid4().int % 10**12:012d}@browser.test"


def speed_up(monitor_id: uuid.UUID | str) -> None:
    """Monitors in these tests check every 2 s with a 1 s timeout, below the product's
    10 s minimum (which the form enforces): written directly, and due now, so a
    confirmed down takes seconds rather than minutes."""
    Monitor.all_orgs.filter(id=monitor_id).update(
        interval_seconds=2, timeout_seconds=1, next_check_at=timezone.now(), paused=False
    )


def csrf_token(page: Page) -> str:
    """The token the app hands HTMX (hx-headers on <body>), for direct requests."""
    token = page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken']")
    assert isinstance(token, str) and token
    return token


def mails_to(address: str) -> list[EmailMessage]:
    """Messages to ``address`` written by the file-based e-mail backend (what the
    workers use in the test environment) under EMAIL_FILE_PATH."""
    found: list[EmailMessage] = []
    if not MAIL_DIR.is_dir():
        return found
    for path in sorted(MAIL_DIR.glob("*.log"), key=lambda p: p.stat().st_mtime):
        raw = path.read_bytes()
        if address.encode() not in raw:
            continue
        for chunk in raw.split(b"\n" + b"-" * 79 + b"\n"):
            if address.encode() in chunk:
                message = email.message_from_bytes(chunk.strip(), policy=email.policy.default)
                assert isinstance(message, EmailMessage)
                found.append(message)
    return found


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    content = body.get_content()
    assert isinstance(content, str)
    return content


def wait_until(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)
