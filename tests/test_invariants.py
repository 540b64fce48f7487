"""SPEC §11 invariants, checked over the code and the database catalogue."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.db import connections
from django.urls import URLPattern, URLResolver, get_resolver

ROOT = Path(__file__).resolve().parent.parent
APPS = ["pulse", "accounts", "monitors", "incidents", "alerting", "notifications", "ingest"]


def app_sources() -> list[Path]:
    files: list[Path] = []
    for app in APPS:
        files += [p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts]
    return sorted(files)


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_inv1_raw_sql_only_in_the_db_layer() -> None:
    """connection.cursor / .raw( / .extra( live only under pulse/db, and in the few
    listed system modules that must run SQL Django cannot express."""
    allowed = {"pulse/health.py"}  # SELECT 1 liveness probe, no tenant data
    pattern = re.compile(r"\.cursor\(|\.raw\(|\.extra\(")
    offenders = [
        rel(path)
        for path in app_sources()
        if pattern.search(path.read_text())
        and not rel(path).startswith("pulse/db/")
        and rel(path) not in allowed
    ]
    assert offenders == []


def test_all_orgs_escape_is_used_only_by_listed_system_modules() -> None:
    """Every use of Model.all_orgs (cross-org access) is listed here on purpose."""
    expected = {
        "accounts/services.py",  # invitation lookup by token: the invitee is no member yet
        "accounts/api_keys.py",  # key lookup by token hash: the key names the org
        "alerting/engine.py",  # evaluates a batch of results for many orgs
        "alerting/reminders.py",  # repeats unacknowledged incidents of every org
        "monitors/checks.py",  # loads a batch of due monitors for many orgs
        "notifications/delivery.py",  # the notifier claims outbox rows of every org
        "notifications/inbound.py",  # a Twilio callback names an account, not an org
        "notifications/secrets.py",  # key rotation re-encrypts every org's channels
        "pulse/metrics.py",  # fleet-wide figures for the operator, no tenant data
        "pulse/admin.py",  # the support admin spans orgs, audited
    }

    def uses(path: Path) -> bool:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "all_orgs":
                return True
            if isinstance(node, ast.Constant) and node.value == "all_orgs":
                return True
        return False

    users = {rel(p) for p in app_sources() if not rel(p).startswith("pulse/db/") and uses(p)}
    assert users == expected


def test_system_alias_is_used_only_by_the_db_layer_and_listed_modules() -> None:
    expected = {
        "pulse/settings.py",  # defines the alias
        "pulse/admin.py",  # the support admin spans orgs, audited
        "monitors/checks.py",  # records a batch of results in one system transaction
        "monitors/events.py",  # publishes that batch after its commit
        "alerting/engine.py",  # evaluates that batch (many orgs) in the same transaction
        "alerting/reminders.py",  # writes reminders for every org in one transaction
        "notifications/delivery.py",  # claims and finishes outbox rows across orgs
        "notifications/inbound.py",  # records a provider callback for whichever org it is
        "notifications/secrets.py",  # re-encrypts channel secrets of every org (rotation)
    }
    use = re.compile(
        r"SYSTEM_DB|using=[\"']system[\"']|connections\[[\"']system[\"']\]|"
        r"[\"']system[\"']\s*:"
    )
    users = {
        rel(p)
        for p in app_sources()
        if use.search(p.read_text()) and not rel(p).startswith("pulse/db/")
    }
    assert users == expected


def test_inv2_and_inv3_unique_constraints_exist_in_the_database(live_db: None) -> None:
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'users' AND indexdef LIKE "
            "'%UNIQUE%' AND indexdef ILIKE '%lower((email)%'"
        )
        assert cursor.fetchall(), "INV-3: users needs UNIQUE lower(email)"


def _function(tree: ast.Module, name: str) -> ast.FunctionDef:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise AssertionError(f"{name} not found")


def _first_line_calling(func: ast.FunctionDef, names: set[str]) -> int:
    lines = [
        node.lineno
        for node in ast.walk(func)
        if isinstance(node, ast.Call)
        and (getattr(node.func, "attr", None) in names or getattr(node.func, "id", None) in names)
    ]
    assert lines, f"no call to {names} in {func.name}"
    return min(lines)


def test_inv5_login_rate_limit_comes_before_the_password_compare() -> None:
    tree = ast.parse((ROOT / "accounts/services.py").read_text())
    login = _function(tree, "login_attempt")
    throttled = _first_line_calling(login, {"login_throttle"})
    locked = _first_line_calling(login, {"is_locked"})
    compared = _first_line_calling(login, {"authenticate", "check_password"})
    assert throttled < locked < compared
    # The views reach passwords only through login_attempt.
    for module in ("accounts/views.py", "accounts/api.py"):
        source = (ROOT / module).read_text()
        assert "authenticate(" not in source and "check_password(" not in source, module


def test_inv10_structlog_only_no_print_or_stdlib_logging() -> None:
    offenders = []
    for path in app_sources():
        if rel(path) == "pulse/logging.py":  # configures the stdlib bridge
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                offenders.append(f"{rel(path)}:{node.lineno} print")
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                if any(n == "logging" or n.startswith("logging.") for n in names):
                    offenders.append(f"{rel(path)}:{node.lineno} import logging")
    assert offenders == []


def _url_names(resolver: URLResolver, namespace: str = "") -> set[str]:
    names: set[str] = set()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            if entry.namespace == "admin":
                continue  # Django's own admin views; covered by tests/test_admin.py
            names |= _url_names(entry, ns)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(f"{namespace}{entry.name}")
    return names


def test_inv11_every_url_name_is_requested_by_a_test() -> None:
    tests_text = "\n".join(
        p.read_text() for p in (ROOT / "tests").rglob("*.py") if p.name != "test_invariants.py"
    )
    missing = sorted(
        name
        for name in _url_names(get_resolver())
        if f'"{name}"' not in tests_text and f"'{name}'" not in tests_text
    )
    assert missing == []


COLOUR = re.compile(
    r"#[0-9a-fA-F]{3,8}\b|\b(?:rgb|rgba|hsl|hsla|oklch|oklab|lab|lch|color)\(|"
    r":\s*(?:white|black|red|green|blue|gray|grey|orange|yellow|purple)\b"
)


def test_inv12_no_colour_literals_outside_tokens_css() -> None:
    offenders = []
    candidates = list((ROOT / "static").rglob("*.css")) + list((ROOT / "templates").rglob("*.html"))
    for app in APPS:
        candidates += list((ROOT / app).rglob("*.html"))
    for path in candidates:
        if path.name == "tokens.css":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "&#" in line:  # HTML character references are not colours
                line = re.sub(r"&#x?[0-9a-fA-F]+;", "", line)
            if COLOUR.search(line):
                offenders.append(f"{rel(path)}:{number}: {line.strip()[:80]}")
    assert offenders == []
