"""scripts/devstack.py: where the private cluster lives, and stopping with `make`."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_devstack() -> ModuleType:
    name = "_devstack_under_test"
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts/devstack.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_folder_others_cannot_traverse_is_seen_as_such(tmp_path: Path) -> None:
    devstack = load_devstack()
    inner = tmp_path / "home" / "checkout"
    inner.mkdir(parents=True)
    assert devstack.others_can_traverse(Path("/usr/lib")) is True
    (tmp_path / "home").chmod(0o700)
    assert devstack.others_can_traverse(inner) is False
    assert devstack.others_can_traverse(tmp_path / "home") is False


@pytest.mark.skipif(os.geteuid() != 0, reason="the cluster moves only when run as root")
def test_a_checkout_the_postgres_user_cannot_reach_keeps_its_cluster_in_var_tmp(
    tmp_path: Path,
) -> None:
    checkout = tmp_path / "private" / "pulse"
    (checkout / "scripts").mkdir(parents=True)
    (checkout / "scripts" / "devstack.py").write_bytes((ROOT / "scripts/devstack.py").read_bytes())
    (tmp_path / "private").chmod(0o700)
    code = "import devstack, sys; print(devstack.PG_DIR)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=checkout / "scripts",
        env={**os.environ, "PYTHONPATH": str(checkout / "scripts")},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out.startswith("/var/tmp/pulse-pg-")  # noqa: S108 (the path under test)
    (tmp_path / "private").chmod(0o755)
    tmp_path.chmod(0o755)
    if load_devstack().others_can_traverse(tmp_path):
        again = subprocess.run(
            [sys.executable, "-c", code],
            cwd=checkout / "scripts",
            env={**os.environ, "PYTHONPATH": str(checkout / "scripts")},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert again == str(checkout / ".run" / "pg")


def test_a_sigterm_sent_to_make_reaches_the_recipe(tmp_path: Path) -> None:
    """GNU make exits on SIGTERM without passing it on; devstack asks the kernel for a
    SIGTERM when its parent goes, so `make run` under a process manager stops cleanly."""
    marker = tmp_path / "stopped"
    ready = tmp_path / "ready"
    recipe = (
        "import signal, sys, time, pathlib\n"
        f"sys.path.insert(0, {str(ROOT / 'scripts')!r})\n"
        "import devstack\n"
        "def on_term(*_):\n"
        f"    pathlib.Path({str(marker)!r}).write_text('TERM')\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, on_term)\n"
        "devstack.term_with_parent()\n"
        f"pathlib.Path({str(ready)!r}).write_text('ok')\n"
        "time.sleep(120)\n"
    )
    (tmp_path / "recipe.py").write_text(recipe)
    (tmp_path / "Makefile").write_text(f"run:\n\t@{sys.executable} {tmp_path / 'recipe.py'}\n")
    make = subprocess.Popen(["make", "-s", "run"], cwd=tmp_path, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert make.poll() is None, "make exited before the recipe was ready"
            assert time.monotonic() < deadline, "the recipe never became ready"
            time.sleep(0.05)
        make.send_signal(signal.SIGTERM)  # only make, as a process manager would
        make.wait(timeout=60)
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert time.monotonic() < deadline, "the recipe outlived make without a SIGTERM"
            time.sleep(0.05)
        assert marker.read_text() == "TERM"
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
        subprocess.run(["pkill", "-KILL", "-f", str(tmp_path / "recipe.py")], check=False)
