"""`make smoke`: the production shape on loopback, then functional checks over HTTPS.

Debian's nginx runs the repo's own ``deploy/nginx.conf`` (ports, upstream, certificate
and static paths substituted, nothing else), in front of daphne with production
settings (``PULSE_ENV=prod``), the Celery workers and beat, all on free 127.0.0.1 ports
with their files under ``.run/smoke/``. The checks (``smoke.checks``) and the browser
workflows (``tests/browser/test_workflows.py`` pointed at the stack) then run over
HTTPS and WSS through nginx. The last line printed is ``N passed, M failed``.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run" / "smoke"
