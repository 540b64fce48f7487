"""Evaluates recorded check results into monitor status (SPEC §6).

Interim: status follows the latest outcome. The flap-detecting state machine
replaces this with the Alert engine work.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from monitors.models import Monitor, MonitorStatus
from pulse.db.checks import ResultRow

_STATUS = {"ok": MonitorStatus.UP, "slow": MonitorStatus.DEGRADED, "fail": MonitorStatus.DOWN}


def evaluate_results(rows: Sequence[ResultRow]) -> None:
    by_status: dict[str, list[uuid.UUID]] = {}
    for row in rows:
        by_status.setdefault(_STATUS[row.outcome], []).append(row.monitor_id)
    for status, ids in by_status.items():
        Monitor.all_orgs.filter(id__in=ids, paused=False).exclude(
            status=MonitorStatus.MAINTENANCE
        ).update(status=status)
