#!/usr/bin/env python3
"""Dependency audit: the hash-pinned Python locks (pip-audit) and package-lock.json
(npm audit), against the registries' vulnerability services.

Fails when a known vulnerability is reported. When a service cannot be asked (this
machine reaches the registries' package pages only: PyPI answers 404 for the
per-release JSON pip-audit reads, and npm's advisory endpoint 405), it says so plainly
and does not fail: an audit that could not run is reported as not run, never as clean.

    python scripts/audit.py            # both
    python scripts/audit.py --python   # pip-audit only
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ("requirements/base.lock", "requirements/dev.lock")


def audit_python() -> tuple[int, int, list[str]]:
    """(packages audited, packages that could not be, vulnerability lines)."""
    audited = skipped = 0
    found: list[str] = []
    for lock in LOCKS:
        res = subprocess.run(
            [
                sys.executable, "-m", "pip_audit",
                "-r", lock, "--require-hashes", "--disable-pip", "--no-deps",
                "--progress-spinner", "off", "--format", "json",
            ],
            cwd=ROOT, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        try:
            report = json.loads(res.stdout)
        except ValueError:
            found.append(
                f"{lock}: pip-audit failed ({res.returncode}): {res.stderr.strip()[-400:]}"
            )
            continue
        for dep in report.get("dependencies", []):
            if "skip_reason" in dep:
                skipped += 1
                continue
            audited += 1
            for vuln in dep.get("vulns", []):
                fixes = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
                found.append(f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixes})")
    return audited, skipped, found


def audit_npm() -> tuple[bool, list[str]]:
    """(the service answered, vulnerability lines)."""
    npm = shutil.which("npm")
    if npm is None:
        return False, []
    res = subprocess.run(
        [npm, "audit", "--json", "--package-lock-only"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    try:
        report = json.loads(res.stdout)
    except ValueError:
        return False, []
    if "error" in report or ("message" in report and "vulnerabilities" not in report):
        return False, []
    lines = [
        f"{name}: {info.get('severity')} ({info.get('range', '')})"
        for name, info in report.get("vulnerabilities", {}).items()
    ]
    return True, lines


def main(argv: list[str]) -> int:
    audited, skipped, found = audit_python()
    total = audited + skipped
    if audited:
        print(f"audit: Python: {audited} of {total} pinned packages audited")
    else:
        print(
            f"audit: Python: NOT RUN - the vulnerability service answered for none of the "
            f"{total} pinned packages (PyPI's per-release JSON is not reachable here)"
        )
    if "--python" not in argv:
        answered, npm_found = audit_npm()
        found += npm_found
        print(
            "audit: npm: audited package-lock.json"
            if answered
            else "audit: npm: NOT RUN - the registry's advisory service did not answer"
        )
    for line in found:
        print(f"audit: VULNERABLE {line}")
    print(f"audit: {len(found)} known vulnerabilities")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
