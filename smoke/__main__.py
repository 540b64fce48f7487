"""``python -m smoke``: see the package docstring. Options: ``--no-browser`` (checks
only), ``--no-install`` (never apt-get nginx), ``-k EXPR`` (passed to the browser run).

The smoke gets its own database and Redis db: ``PULSE_SMOKE_DB`` (default: the test
database's name + ``_smoke``, e.g. ``pulse_test_smoke``) and ``PULSE_SMOKE_REDIS_DB``
(default: ``PULSE_TEST_REDIS_DB`` if set, else 13), provisioned by
``scripts/devstack.py exec --test``, which this re-executes itself through.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from smoke import ROOT, RUN_DIR, procs

INNER = "PULSE_SMOKE_INNER"
DEFAULT_REDIS_DB = "13"


def _own_names() -> dict[str, str]:
    db = os.environ.get("PULSE_SMOKE_DB", "").strip()
    if not db:
        db = (os.environ.get("PULSE_TEST_DB", "").strip() or "pulse_test") + "_smoke"
    redis_db = (
        os.environ.get("PULSE_SMOKE_REDIS_DB", "").strip()
        or os.environ.get("PULSE_TEST_REDIS_DB", "").strip()
        or DEFAULT_REDIS_DB
    )
    return {"PULSE_TEST_DB": db, "PULSE_TEST_REDIS_DB": redis_db}


def reexec_in_own_env(argv: list[str]) -> None:
    """Become ``devstack.py exec --test -- python -m smoke ARGS`` with the smoke's own
    database and Redis db (devstack creates and provisions them)."""
    env = {**os.environ, **_own_names(), INNER: "1"}
    devstack = str(ROOT / "scripts" / "devstack.py")
    args = [sys.executable, devstack, "exec", "--test", "--", "python", "-m", "smoke", *argv]
    sys.stdout.flush()
    os.execve(sys.executable, args, env)  # noqa: S606 - our own interpreter and script


class Stop(BaseException):
    """SIGTERM/SIGHUP: unwind, so every process the smoke started is stopped (a
    BaseException, so no check's ``except Exception`` swallows it)."""


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def say(line: str) -> None:
    print(line, flush=True)


@dataclass
class BrowserResult:
    passed: int
    failed: int
    seconds: float


def run_browser_workflows(
    base: str, hook_pem: Path, junit: Path, select: str | None
) -> BrowserResult:
    """tests/browser/test_workflows.py against the running stack (the fixtures' external
    mode): Chromium over HTTPS/WSS through nginx, webhooks to an HTTPS receiver."""
    env = dict(os.environ)
    env.update(
        {
            "PULSE_BROWSER_BASE_URL": base,
            "PULSE_BROWSER_HOOK_CERT": str(hook_pem),
        }
    )
    args = [
        sys.executable,
        "-m",
        "pytest",
        "tests/browser/test_workflows.py",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--junitxml={junit}",
    ]
    if select:
        args += ["-k", select]
    junit.unlink(missing_ok=True)
    started = time.monotonic()
    # Its own process group: on an interrupt, Chromium goes with it.
    runner = subprocess.Popen(
        args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, start_new_session=True
    )
    try:
        runner.wait()
    finally:
        procs.stop(procs.Proc("browser-workflows", runner, junit))
    seconds = time.monotonic() - started
    if not junit.exists():
        say("  FAIL browser workflows: pytest wrote no report")
        return BrowserResult(0, 1, seconds)
    passed = failed = 0
    for case in ET.parse(junit).getroot().iter("testcase"):  # noqa: S314 - our own file
        name = case.get("name", "?")
        problems = [c for c in case if c.tag in ("failure", "error", "skipped")]
        if problems:
            failed += 1
            message = (problems[0].get("message") or problems[0].tag).splitlines()[0][:200]
            say(f"  FAIL workflow {name} - {problems[0].tag}: {message}")
        else:
            passed += 1
            say(f"  ok   workflow {name} ({float(case.get('time', 0)):.1f} s)")
    if passed + failed == 0:
        say("  FAIL browser workflows: none ran")
        failed = 1
    return BrowserResult(passed, failed, seconds)


def reset_data() -> Callable[[], None]:
    """Empty the smoke's database tables and its Redis db (both the smoke's own)."""
    import redis
    from django.conf import settings
    from django.db import connections

    from tests.conftest import truncate_all

    def reset() -> None:
        client = redis.Redis.from_url(settings.REDIS_URL)
        try:
            client.flushdb()
        finally:
            client.close()
        truncate_all()
        connections.close_all()

    return reset


def inner(options: argparse.Namespace) -> int:
    import django

    from smoke import checks, nginx, stack
    from smoke.peers import TlsHookReceiver
    from smoke.tls import make_certs
    from tests.monitors.peers import WebPeer

    started = time.monotonic()
    if not nginx.ensure_nginx(install=not options.no_install):
        say("smoke: Debian's nginx is missing and could not be installed (apt-get, as root)")
        say("0 passed, 1 failed")
        return 1
    for stale in ("tls", "logs", "tmp"):
        shutil.rmtree(RUN_DIR / stale, ignore_errors=True)
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pulse.settings")
    django.setup()
    reset = reset_data()
    certs = make_certs(RUN_DIR / "tls")
    suite = checks.Suite(say)
    browser = BrowserResult(0, 0, 0.0)
    failed_to_start = False
    try:
        with (
            stack.running(RUN_DIR, certs, dict(os.environ), before_start=reset) as live,
            WebPeer() as target,
            TlsHookReceiver(certs.hook_pem) as hooks,
        ):
            say(f"smoke: {stack.describe(live)} ({time.monotonic() - started:.0f} s to start)")
            world = checks.World(stack=live, ca=certs.ca, target=target, hooks=hooks)
            checks.run_all(world, suite)
            dead = live.alive()
            suite.run("every stack process still running", lambda: _none_dead(dead))
            if not options.no_browser:
                say("smoke: browser workflows (Chromium over HTTPS/WSS through nginx)")
                browser = run_browser_workflows(
                    live.base, certs.hook_pem, RUN_DIR / "browser.xml", options.k
                )
    except (Stop, KeyboardInterrupt) as exc:
        say(f"smoke: interrupted ({exc or 'Ctrl-C'})")
        failed_to_start = True
    except Exception as exc:
        say(f"smoke: the stack did not come up: {type(exc).__name__}: {exc}")
        say(f"smoke: logs in {RUN_DIR.relative_to(ROOT) / 'logs'}")
        failed_to_start = True
    finally:
        reset()
    passed = suite.passed + browser.passed
    failed = suite.failed + browser.failed + (1 if failed_to_start else 0)
    say(
        f"smoke: {len(suite.outcomes)} checks ({suite.passed} passed), "
        f"{browser.passed + browser.failed} browser workflows ({browser.passed} passed, "
        f"{browser.seconds:.0f} s); {time.monotonic() - started:.0f} s in all"
    )
    say(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def _none_dead(dead: list[str]) -> str:
    if dead:
        raise RuntimeError(f"exited during the smoke: {', '.join(dead)}")
    return ""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m smoke", description=__doc__)
    parser.add_argument("--no-browser", action="store_true", help="skip the browser workflows")
    parser.add_argument("--no-install", action="store_true", help="never apt-get nginx")
    parser.add_argument("-k", help="select browser workflows (pytest -k)")
    options = parser.parse_args(argv)
    if os.environ.get(INNER) != "1":
        reexec_in_own_env(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    return inner(options)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
