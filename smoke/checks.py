"""The functional checks, in the order a new customer meets the product: the edge
(TLS, redirects, headers, static files, limits), signing up and in, every screen, an API
key, a monitor on a local target, a webhook channel and rule, the target failing (the
live socket shows it, an incident opens, a signed webhook arrives), acknowledging,
recovering, and the operator's endpoints (health, readiness, metrics).

Each check is a function of the shared :class:`World`; a check that needs what an
earlier one failed to make fails too (it says so), so the count stays honest.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import socket
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from smoke.client import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Api,
    CheckFailed,
    LiveSocket,
    Web,
    expect,
    raw_headers,
    ssl_context,
    wait_for,
)
from smoke.peers import TlsHookReceiver
from smoke.stack import Stack
from tests.monitors.peers import WebPeer
from tests.notifications.peers import ReceivedHook

HSTS = "max-age=31536000; includeSubDomains; preload"
PASSWORD = "smoke-" + "correct-horse-battery"
SPOOFED_IP = "203.0.113.7"
# A monitor that checks every 10 s (the product's minimum) and goes down or recovers on
# one result, so the incident cycle takes seconds, through the API as a customer would.
MONITOR_INTERVAL = 10
STATE_TIMEOUT = 3 * MONITOR_INTERVAL + 10

PUBLIC_SCREENS = ["/", "/login", "/signup", "/password-reset"]
SCREENS = [
    "/app/",
    "/monitors/",
    "/monitors/new",
    "/incidents/",
    "/alerts/rules/",
    "/alerts/rules/new",
    "/alerts/maintenance/",
    "/alerts/maintenance/new",
    "/notify/channels/",
    "/notify/channels/new",
    "/notify/deliveries/",
    "/hosts/",
    "/settings/team",
    "/settings/sessions",
    "/settings/api-keys",
    "/settings/audit",
    "/settings/org",
    "/orgs/new",
    "/v1/docs",
]
# Screens of the objects the checks create: {monitor}, {incident}, {channel}, {rule}.
DETAIL_SCREENS = [
    "/monitors/{monitor}/",
    "/monitors/{monitor}/edit",
    "/incidents/{incident}/",
    "/notify/channels/{channel}/",
    "/notify/channels/{channel}/edit",
    "/alerts/rules/{rule}/edit",
]


@dataclass
class Outcome:
    name: str
    ok: bool
    detail: str
    seconds: float


@dataclass
class World:
    stack: Stack
    ca: Path
    target: WebPeer
    hooks: TlsHookReceiver
    email: str = field(default_factory=lambda: f"owner-{uuid.uuid4().hex[:10]}@smoke.test")
    web: Web | None = None
    api: Api | None = None
    session_before_login: str | None = None
    set_cookies: list[str] = field(default_factory=list)
    secret: str = field(
        default_factory=lambda: "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    )
    ids: dict[str, str] = field(default_factory=dict)
    socket: LiveSocket | None = None

    def need_web(self) -> Web:
        expect(self.web is not None, "needs the signed-in visitor (sign up failed)")
        assert self.web is not None  # noqa: S101 - for mypy
        return self.web

    def need_api(self) -> Api:
        expect(self.api is not None, "needs the API key (its check failed)")
        assert self.api is not None  # noqa: S101 - for mypy
        return self.api

    def need(self, name: str) -> str:
        expect(name in self.ids, f"needs the {name} (its check failed)")
        return self.ids[name]

    def anonymous(self) -> Web:
        return Web(self.stack.base, self.ca)


class Suite:
    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out
        self.outcomes: list[Outcome] = []

    def run(self, name: str, check: Callable[[], str | None]) -> bool:
        started = time.monotonic()
        try:
            detail = check() or ""
            ok = True
        except CheckFailed as exc:
            detail, ok = str(exc), False
        except Exception as exc:
            detail, ok = f"{type(exc).__name__}: {exc}", False
        seconds = time.monotonic() - started
        self.outcomes.append(Outcome(name, ok, detail, seconds))
        mark = "ok  " if ok else "FAIL"
        self.out(f"  {mark} {name} ({seconds:.1f} s){' - ' + detail if detail else ''}")
        return ok

    @property
    def passed(self) -> int:
        return sum(o.ok for o in self.outcomes)

    @property
    def failed(self) -> int:
        return sum(not o.ok for o in self.outcomes)


# ------------------------------------------------------------------ the edge


def tls_and_http2(w: World) -> str:
    """TLS 1.2+ with a certificate that verifies, and HTTP/2 offered by ALPN."""
    context = ssl_context(w.ca)
    context.set_alpn_protocols(["h2", "http/1.1"])
    port = int(w.stack.base.rsplit(":", 1)[1])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        version, alpn = tls.version(), tls.selected_alpn_protocol()
    expect(version in ("TLSv1.2", "TLSv1.3"), f"negotiated {version}")
    expect(alpn == "h2", f"ALPN chose {alpn!r}, not h2")
    old = ssl_context(w.ca)
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.minimum_version = ssl.TLSVersion.TLSv1
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            old.wrap_socket(raw, server_hostname="127.0.0.1"),
        ):
            raise CheckFailed("a TLS 1.1 handshake was accepted")
    except ssl.SSLError:
        pass
    return f"{version}, {alpn}; TLS 1.1 refused"


def redirect_to_https(w: World) -> str:
    web = w.anonymous()
    response = web.get(f"{w.stack.http_base}/monitors/?page=2&q=a%20b")
    expect(response.status_code == 301, f"HTTP {response.status_code}")
    location = response.headers.get("Location")
    # The shipped config sends browsers to the standard port; only the smoke's listen
    # ports differ from it.
    expect(location == "https://127.0.0.1/monitors/?page=2&q=a%20b", f"Location {location}")
    login = web.get(f"{w.stack.http_base}/login")
    expect(login.status_code == 301, f"/login on port 80: HTTP {login.status_code}")
    return f"301 {location}"


def health_on_port_80(w: World) -> str:
    web = w.anonymous()
    for path in ("/health", "/api/health", "/health/ready"):
        response = web.get(f"{w.stack.http_base}{path}")
        expect(response.status_code == 200, f"{path} on port 80: HTTP {response.status_code}")
        expect(response.json().get("status") == "ok", f"{path}: {response.text[:200]}")
    return "/health, /api/health, /health/ready: 200 over plain HTTP"


def health(w: World) -> str:
    web = w.anonymous()
    for path in ("/health", "/api/health"):
        response = web.get(path)
        expect(response.status_code == 200, f"{path}: HTTP {response.status_code}")
        body = response.json()
        expect(body == {"status": "ok", "checks": {"db": "ok", "redis": "ok"}}, f"{path}: {body}")
        expect("no-cache" in response.headers.get("Cache-Control", ""), f"{path}: cacheable")
    return "db ok, redis ok"


def readiness(w: World) -> str:
    response = w.anonymous().get("/health/ready")
    expect(response.status_code == 200, f"HTTP {response.status_code}: {response.text[:200]}")
    checks = response.json().get("checks", {})
    expect(checks.get("migrations") == "ok", f"checks: {checks}")
    return "db, redis, migrations ok"


def hsts(w: World) -> str:
    web = w.anonymous()
    seen = []
    for path in ("/login", "/static/css/tokens.css", "/health", "/no-such-page"):
        values = raw_headers(web.get(path), "Strict-Transport-Security")
        expect(values == [HSTS], f"{path}: Strict-Transport-Security {values}")
        seen.append(path)
    plain = raw_headers(web.get(f"{w.stack.http_base}/health"), "Strict-Transport-Security")
    expect(plain == [], f"HSTS over plain HTTP: {plain}")
    return f"exactly one, on {', '.join(seen)}"


def csp_and_security_headers(w: World) -> str:
    response = w.anonymous().get("/login")
    expect(response.status_code == 200, f"/login: HTTP {response.status_code}")
    csp = response.headers.get("Content-Security-Policy", "")
    for part in ("default-src 'self'", "object-src 'none'", "frame-ancestors 'none'"):
        expect(part in csp, f"CSP lacks {part!r}: {csp}")
    nonce = re.search(r"script-src 'self' 'nonce-([^']+)'", csp)
    expect(nonce, f"CSP script-src has no nonce: {csp}")
    assert nonce is not None  # noqa: S101 - for mypy
    scripts = re.findall(r"<script[^>]*>", response.text)
    expect(scripts, "no <script> on /login")
    unsigned = [s for s in scripts if f'nonce="{nonce.group(1)}"' not in s]
    expect(not unsigned, f"scripts without the response's nonce: {unsigned}")
    headers = response.headers
    expect(
        headers.get("X-Frame-Options") == "DENY",
        f"X-Frame-Options {headers.get('X-Frame-Options')}",
    )
    expect(headers.get("X-Content-Type-Options") == "nosniff", "no X-Content-Type-Options")
    expect(
        headers.get("Referrer-Policy") == "strict-origin-when-cross-origin",
        f"Referrer-Policy {headers.get('Referrer-Policy')}",
    )
    return f"nonce on all {len(scripts)} scripts; XFO, nosniff, referrer policy"


def static_files_by_nginx(w: World) -> str:
    web = w.anonymous()
    response = web.get("/static/vendor/htmx/htmx.min.js")
    expect(response.status_code == 200, f"HTTP {response.status_code}")
    expect(
        "javascript" in response.headers.get("Content-Type", ""),
        f"Content-Type {response.headers.get('Content-Type')}",
    )
    # The app stamps every answer with X-Request-ID; nginx serving the file does not.
    expect("X-Request-ID" not in response.headers, "answered by the app, not by nginx")
    expect(
        "max-age=3600" in response.headers.get("Cache-Control", ""),
        f"Cache-Control {response.headers.get('Cache-Control')}",
    )
    expect(response.headers.get("X-Content-Type-Options") == "nosniff", "no nosniff on static")
    etag = response.headers.get("ETag")
    expect(etag, "no ETag to revalidate with")
    again = web.get("/static/vendor/htmx/htmx.min.js", headers={"If-None-Match": str(etag)})
    expect(again.status_code == 304, f"revalidation: HTTP {again.status_code}")
    missing = web.get("/static/no-such-file.js")
    expect(missing.status_code == 404, f"missing static file: HTTP {missing.status_code}")
    return f"{len(response.content)} bytes, 304 on revalidation"


def request_id(w: World) -> str:
    web = w.anonymous()
    mine = f"smoke-{uuid.uuid4().hex[:12]}"
    echoed = web.get("/health", headers={"X-Request-ID": mine}).headers.get("X-Request-ID")
    expect(echoed == mine, f"sent {mine}, got back {echoed}")
    minted = web.get("/health").headers.get("X-Request-ID", "")
    expect(re.fullmatch(r"[0-9a-f]{32}", minted), f"minted id {minted!r}")
    return "kept when given, minted by nginx otherwise"


def unknown_paths_reach_the_app(w: World) -> str:
    slug = f"smoke-{uuid.uuid4().hex[:8]}"
    response = w.anonymous().get(f"/status/{slug}")
    expect(response.status_code == 404, f"HTTP {response.status_code}")
    expect("X-Request-ID" in response.headers, "nginx's own 404, not the app's")
    for leak in ("Django tried these URL patterns", "Traceback", "DEBUG = True"):
        expect(leak not in response.text, f"debug output in a 404: {leak!r}")
    return f"/status/{slug}: the app's 404, no debug page"


def support_admin(w: World) -> str:
    web = w.anonymous()
    response = web.get("/support/")
    expect(response.status_code == 302, f"/support/: HTTP {response.status_code}")
    location = response.headers.get("Location", "")
    expect(location.startswith("/support/login/"), f"Location {location}")
    login = web.get(location)
    expect(login.status_code == 200, f"{location}: HTTP {login.status_code}")
    expect('name="csrfmiddlewaretoken"' in login.text, "no login form")
    return "redirects to its login, which answers"


def screen(w: World, path: str, *, signed_in: bool) -> Callable[[], str]:
    def check() -> str:
        web = w.need_web() if signed_in else w.anonymous()
        resolved = path.format(**w.ids) if "{" in path else path
        response = web.get(resolved)
        expect(
            response.status_code == 200,
            f"HTTP {response.status_code} {response.headers.get('Location', '')}",
        )
        kind = response.headers.get("Content-Type", "")
        expect(kind.startswith("text/html"), f"Content-Type {kind}")
        expect("Content-Security-Policy" in response.headers, "no CSP")
        return ""

    return check


def large_headers(w: World) -> str:
    web = w.anonymous()
    filler = "x" * (12 * 1024)
    fine = web.get("/login", headers={"X-Smoke-Filler": filler})
    expect(fine.status_code == 200, f"a 12 KB header line: HTTP {fine.status_code}")
    too_big = web.get("/login", headers={"X-Smoke-Filler": "x" * (20 * 1024)})
    expect(too_big.status_code == 400, f"a 20 KB header line: HTTP {too_big.status_code}")
    return "12 KB accepted, 20 KB refused with 400"


def body_limits(w: World) -> str:
    web = w.anonymous()
    headers = {"Content-Type": "application/json"}
    big = web.session.post(
        web.url("/v1/auth/login"), data=b"[" + b"0," * (1536 * 1024) + b"0]", headers=headers
    )
    expect(big.status_code == 413, f"3 MB body: HTTP {big.status_code}")
    expect("X-Request-ID" not in big.headers, "3 MB reached the app (nginx should stop it)")
    middle = web.session.post(
        web.url("/v1/auth/login"), data=b"[" + b"0," * (700 * 1024) + b"0]", headers=headers
    )
    expect(middle.status_code == 413, f"1.4 MB body: HTTP {middle.status_code}")
    kind = middle.headers.get("Content-Type", "")
    expect(kind.startswith("application/problem+json"), f"the app's 413 is {kind}")
    return "3 MB stopped by nginx, 1.4 MB by the app (problem+json)"


def api_needs_credentials(w: World) -> str:
    response = w.anonymous().get("/v1/monitors")
    expect(response.status_code == 401, f"HTTP {response.status_code}")
    kind = response.headers.get("Content-Type", "")
    expect(kind.startswith("application/problem+json"), f"Content-Type {kind}")
    return "401 problem+json"


# ------------------------------------------------------------------ accounts


def sign_up(w: World) -> str:
    web = Web(w.stack.base, w.ca)
    page = web.get("/signup")
    w.set_cookies += raw_headers(page, "Set-Cookie")
    response = web.session.post(
        web.url("/signup"),
        data={
            "csrfmiddlewaretoken": web.csrf_from(page),
            "name": "Smoke Owner",
            "email": w.email,
            "password": PASSWORD,
            "org_name": "Smoke Org",
        },
        headers={"Origin": web.base, "Referer": web.url("/signup")},
        allow_redirects=False,
    )
    w.set_cookies += raw_headers(response, "Set-Cookie")
    expect(response.status_code == 302, f"HTTP {response.status_code}: {response.text[:300]}")
    expect(response.headers.get("Location") == "/app/", f"to {response.headers.get('Location')}")
    expect(web.session_cookie(), "no session cookie after signing up")
    dashboard = web.get("/app/")
    expect(dashboard.status_code == 200, f"/app/: HTTP {dashboard.status_code}")
    expect("Smoke Org" in dashboard.text, "the dashboard does not name the new org")
    w.web = web
    return w.email


def _cookie(set_cookies: list[str], name: str) -> set[str]:
    """The attributes of the last Set-Cookie for ``name``, lower-cased (``secure``,
    ``samesite=lax``, ``path=/``...)."""
    found = [c for c in set_cookies if c.startswith(f"{name}=")]
    expect(found, f"no Set-Cookie for {name} (saw {[c.split('=')[0] for c in set_cookies]})")
    return {part.strip().lower() for part in found[-1].split(";")[1:]}


def cookie_flags(w: World) -> str:
    session = _cookie(w.set_cookies, SESSION_COOKIE)
    for flag in ("secure", "httponly", "samesite=lax", "path=/"):
        expect(flag in session, f"{SESSION_COOKIE} lacks {flag}: {sorted(session)}")
    expect(not any(a.startswith("domain") for a in session), f"{SESSION_COOKIE} names a domain")
    csrf = _cookie(w.set_cookies, CSRF_COOKIE)
    for flag in ("secure", "samesite=lax", "path=/"):
        expect(flag in csrf, f"{CSRF_COOKIE} lacks {flag}: {sorted(csrf)}")
    expect(not any(a.startswith("domain") for a in csrf), f"{CSRF_COOKIE} names a domain")
    return f"{SESSION_COOKIE}: Secure HttpOnly SameSite=Lax; {CSRF_COOKIE}: Secure SameSite=Lax"


def csrf_enforced(w: World) -> str:
    web = w.anonymous()
    web.get("/login")  # the CSRF cookie, but no token in the form
    response = web.session.post(
        web.url("/login"),
        data={"email": w.email, "password": PASSWORD},
        headers={"Origin": web.base, "Referer": web.url("/login")},
        allow_redirects=False,
    )
    expect(response.status_code == 403, f"a form without its token: HTTP {response.status_code}")
    foreign = w.anonymous()
    page = foreign.get("/login")
    response = foreign.session.post(
        foreign.url("/login"),
        data={"csrfmiddlewaretoken": foreign.csrf_from(page), "email": w.email, "password": "x"},
        headers={"Origin": "https://evil.example", "Referer": "https://evil.example/"},
        allow_redirects=False,
    )
    expect(response.status_code == 403, f"a cross-origin post: HTTP {response.status_code}")
    return "a missing token and a foreign origin are both 403"


def log_out_and_in(w: World) -> str:
    web = w.need_web()
    before = web.session_cookie()
    out = web.submit("/app/", {}, action="/logout")
    expect(out.status_code == 302, f"log out: HTTP {out.status_code}")
    gone = web.get("/app/")
    expect(gone.status_code == 302, f"/app/ after logging out: HTTP {gone.status_code}")
    expect(gone.headers.get("Location", "").startswith("/login"), "not sent to the login")
    page = web.get("/login")
    response = web.session.post(
        web.url("/login"),
        data={"csrfmiddlewaretoken": web.csrf_from(page), "email": w.email, "password": PASSWORD},
        # A client naming its own address: the edge must overwrite both headers.
        headers={
            "Origin": web.base,
            "Referer": web.url("/login"),
            "X-Forwarded-For": SPOOFED_IP,
            "X-Real-IP": SPOOFED_IP,
        },
        allow_redirects=False,
    )
    w.set_cookies += raw_headers(response, "Set-Cookie")
    expect(response.status_code == 302, f"log in: HTTP {response.status_code}")
    expect(response.headers.get("Location") == "/app/", f"to {response.headers.get('Location')}")
    after = web.session_cookie()
    expect(after and after != before, "the session was not rotated at login")
    return "logged out, logged in, new session id"


def client_address(w: World) -> str:
    page = w.need_web().get("/settings/sessions")
    expect(page.status_code == 200, f"/settings/sessions: HTTP {page.status_code}")
    shown = re.findall(r'data-label="IP address"[^>]*>([^<]*)<', page.text)
    expect(SPOOFED_IP not in shown, f"the client's own {SPOOFED_IP} was believed: {shown}")
    # This session (logged in above) and the one signed up with: both from loopback.
    expect(shown and set(shown) == {"127.0.0.1"}, f"sessions list addresses {shown}")
    return f"127.0.0.1 recorded, {SPOOFED_IP} from the client ignored"


# ------------------------------------------------------------------ API and monitoring


def api_key(w: World) -> str:
    web = w.need_web()
    response = web.api("POST", "/v1/api-keys", {"name": "Smoke", "scopes": ["read", "write"]})
    expect(response.status_code == 201, f"HTTP {response.status_code}: {response.text[:300]}")
    key = response.json()["key"]
    expect(key.startswith("pulse_"), f"key {key[:10]}...")
    api = Api(w.stack.base, w.ca, key)
    me = api.ok("GET", "/v1/monitors")
    expect(me["results"] == [], f"a new org lists monitors: {me}")
    w.api = api
    return f"{key.split('_')[1]}… works as a bearer token"


def create_monitor(w: World) -> str:
    body = {
        "name": "Smoke target",
        "type": "http",
        "target": w.target.url("/toggle"),
        "interval_seconds": MONITOR_INTERVAL,
        "timeout_seconds": 2,
        "fail_threshold": 1,
        "recover_threshold": 1,
    }
    created = w.need_api().ok("POST", "/v1/monitors", body, status=201)
    w.ids["monitor"] = created["id"]
    return f"{created['id']} -> {body['target']}"


def webhook_channel(w: World) -> str:
    w.hooks.signing_secrets.append(w.secret)
    body = {
        "name": "Smoke hook",
        "kind": "webhook",
        "config": {"url": w.hooks.url("ok", "smoke"), "secret": w.secret},
    }
    created = w.need_api().ok("POST", "/v1/channels", body, status=201)
    w.ids["channel"] = created["id"]
    outcome = w.need_api().ok("POST", f"/v1/channels/{created['id']}/test")
    tests = wait_for(
        lambda: [h for h in w.hooks.received if h.json().get("type") == "test"],
        timeout=15,
        what="the test webhook",
    )
    expect(tests[0].verified is True, "the test webhook's signature does not verify")
    return f"test sent over https and verified ({json.dumps(outcome)[:80]})"


def alert_rule(w: World) -> str:
    body = {
        "name": "Smoke rule",
        "monitors": [w.need("monitor")],
        "events": ["down", "recovered"],
        "channels": [w.need("channel")],
    }
    created = w.need_api().ok("POST", "/v1/alert-rules", body, status=201)
    w.ids["rule"] = created["id"]
    return str(created["id"])


def _monitor_status(w: World) -> str:
    return str(w.need_api().ok("GET", f"/v1/monitors/{w.need('monitor')}")["status"])


def monitor_up(w: World) -> str:
    wait_for(lambda: _monitor_status(w) == "up", timeout=STATE_TIMEOUT, what="the monitor up")
    return "probed by the checks worker, up"


def _status_in(message: str, monitor: str) -> str | None:
    match = re.search(
        rf'id="monitor-{monitor}-status"[^>]*><span class="status[^"]*" data-status="(\w+)"',
        message,
    )
    return match.group(1) if match else None


def live_socket(w: World) -> str:
    web = w.need_web()
    cookie = web.session_cookie()
    expect(cookie, "no session cookie")
    assert cookie is not None  # noqa: S101 - for mypy
    ws_url = w.stack.base.replace("https://", "wss://") + "/ws/org/"
    sock = LiveSocket(ws_url, cookie=cookie, origin=w.stack.base, ca=w.ca).__enter__()
    w.socket = sock
    monitor = w.need("monitor")
    sock.wait_for(lambda m: _status_in(m, monitor) is not None, timeout=10, what="the snapshot")
    return "wss through nginx: snapshot received"


def target_fails_live(w: World) -> str:
    expect(w.socket is not None, "needs the live socket")
    assert w.socket is not None  # noqa: S101 - for mypy
    monitor = w.need("monitor")
    w.target.set_failing(True)
    started = time.monotonic()
    w.socket.wait_for(
        lambda m: _status_in(m, monitor) == "down", timeout=STATE_TIMEOUT, what="status down"
    )
    return f"down pushed over WSS {time.monotonic() - started:.1f} s after the target broke"


def incident_opens(w: World) -> str:
    monitor = w.need("monitor")

    def open_incident() -> Any:
        listed = w.need_api().ok("GET", "/v1/incidents?status=open")["results"]
        return [i for i in listed if i["monitor"] == monitor]

    found = wait_for(open_incident, timeout=STATE_TIMEOUT, what="an open incident")
    w.ids["incident"] = found[0]["id"]
    return str(found[0]["id"])


def _hooks_of(w: World, kind: str) -> list[ReceivedHook]:
    return [h for h in w.hooks.received if h.path_qs == "/ok/smoke" and h.json()["type"] == kind]


def signed_down_webhook(w: World) -> str:
    monitor, incident = w.need("monitor"), w.need("incident")
    hooks = wait_for(lambda: _hooks_of(w, "monitor.down"), timeout=20, what="monitor.down")
    hook = hooks[0]
    expect(hook.verified is True, "the Standard Webhooks signature does not verify")
    expect(hook.headers.get("webhook-id"), "no webhook-id")
    body = hook.json()
    expect(body["monitor"]["id"] == monitor, f"about {body['monitor']}")
    expect(body["incident"] and body["incident"]["id"] == incident, "wrong incident")
    link = body["links"]["incident"] or ""
    expect(link.startswith(w.stack.base + "/incidents/"), f"link {link}")
    return f"webhook-id {hook.headers['webhook-id']}, signature verified, link {link}"


def acknowledge(w: World) -> str:
    incident = w.need("incident")
    acked = w.need_api().ok("POST", f"/v1/incidents/{incident}/acknowledge", {})
    expect(acked["status"] == "acknowledged", f"status {acked['status']}")
    page = w.need_web().get(f"/incidents/{incident}/")
    expect("Acknowledged" in page.text or "acknowledged" in page.text, "the screen does not say so")
    return "acknowledged through the API, shown on the screen"


def recovers(w: World) -> str:
    expect(w.socket is not None, "needs the live socket")
    assert w.socket is not None  # noqa: S101 - for mypy
    monitor, incident = w.need("monitor"), w.need("incident")
    count = len(w.socket.messages)
    w.target.set_failing(False)
    w.socket.messages.clear()  # only what arrives from now on counts
    w.socket.wait_for(
        lambda m: _status_in(m, monitor) == "up", timeout=STATE_TIMEOUT, what="status up"
    )
    resolved = wait_for(
        lambda: w.need_api().ok("GET", f"/v1/incidents/{incident}")["status"] == "resolved",
        timeout=15,
        what="the incident resolved",
    )
    expect(resolved, "not resolved")
    return f"up again over WSS (after {count} earlier frames), incident resolved"


def signed_recovery_webhook(w: World) -> str:
    w.need("incident")
    hooks = wait_for(
        lambda: _hooks_of(w, "monitor.recovered"), timeout=20, what="monitor.recovered"
    )
    expect(hooks[0].verified is True, "the signature does not verify")
    ids = [h.headers.get("webhook-id") for h in w.hooks.received if h.path_qs == "/ok/smoke"]
    expect(len(ids) == len(set(ids)), f"a webhook-id arrived twice: {ids}")
    return f"{len(ids)} deliveries, each id once"


def metrics(w: World) -> str:
    web = w.anonymous()
    anonymous = web.get("/metrics")
    expect(anonymous.status_code == 404, f"without the token: HTTP {anonymous.status_code}")
    wrong = web.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    expect(wrong.status_code == 404, f"a wrong token: HTTP {wrong.status_code}")
    response = web.get("/metrics", headers={"Authorization": f"Bearer {w.stack.metrics_token}"})
    expect(response.status_code == 200, f"with the token: HTTP {response.status_code}")
    names = ("http_requests_total", "active_monitors", "active_incidents", "outbox_notifications")
    missing = [n for n in names if n not in response.text]
    expect(not missing, f"missing {missing}")
    active = re.search(r"^active_monitors(?:\{[^}]*\})? (\S+)$", response.text, re.M)
    expect(active and float(active.group(1)) >= 1, f"active_monitors {active and active.group(0)}")
    return "404 without or with a wrong token; 200 with it, fleet figures present"


def log_out(w: World) -> str:
    web = w.need_web()
    out = web.submit("/app/", {}, action="/logout")
    expect(out.status_code == 302, f"HTTP {out.status_code}")
    again = web.get("/monitors/")
    expect(again.status_code == 302, f"/monitors/ afterwards: HTTP {again.status_code}")
    return "protected screens send to the login again"


def close_socket(w: World) -> None:
    if w.socket is not None:
        w.socket.__exit__(None, None, None)
        w.socket = None


def run_all(w: World, suite: Suite) -> None:
    edge: list[tuple[str, Callable[[World], str]]] = [
        ("TLS 1.2+ with a verified certificate, HTTP/2", tls_and_http2),
        ("HTTP -> HTTPS 301 keeps the path and query", redirect_to_https),
        ("health and readiness on port 80", health_on_port_80),
        ("health over HTTPS", health),
        ("readiness over HTTPS", readiness),
        ("HSTS: exactly one header, HTTPS only", hsts),
        ("CSP with nonces and security headers", csp_and_security_headers),
        ("static files served by nginx", static_files_by_nginx),
        ("X-Request-ID kept or minted", request_id),
        ("unknown paths (/status/<slug>) reach the app", unknown_paths_reach_the_app),
        ("support admin answers", support_admin),
        ("16 KB header lines", large_headers),
        ("body limits", body_limits),
        ("API without credentials is 401", api_needs_credentials),
    ]
    for name, check in edge:
        suite.run(name, partial(check, w))
    for path in PUBLIC_SCREENS:
        suite.run(f"screen {path}", screen(w, path, signed_in=False))
    flow: list[tuple[str, Callable[[World], str]]] = [
        ("sign up", sign_up),
        ("cookie flags: __Host-, Secure, HttpOnly, SameSite", cookie_flags),
        ("CSRF enforced on forms", csrf_enforced),
        ("log out and log in (session rotated)", log_out_and_in),
        ("client address set by the edge, not the client", client_address),
    ]
    for name, check in flow:
        suite.run(name, partial(check, w))
    for path in SCREENS:
        suite.run(f"screen {path}", screen(w, path, signed_in=True))
    flow = [
        ("API key", api_key),
        ("create a monitor on a local target", create_monitor),
        ("webhook channel (test webhook signed over https)", webhook_channel),
        ("alert rule", alert_rule),
        ("the monitor comes up", monitor_up),
        ("WSS live socket through nginx", live_socket),
        ("target fails: live update over WSS", target_fails_live),
        ("an incident opens", incident_opens),
        ("signed webhook received and verified", signed_down_webhook),
        ("acknowledge", acknowledge),
        ("recover: live update, incident resolved", recovers),
        ("recovery webhook signed, no duplicates", signed_recovery_webhook),
        ("metrics with a token", metrics),
    ]
    try:
        for name, check in flow:
            suite.run(name, partial(check, w))
    finally:
        close_socket(w)
    for path in DETAIL_SCREENS:
        suite.run(f"screen {path}", screen(w, path, signed_in=True))
    suite.run("log out", lambda: log_out(w))
