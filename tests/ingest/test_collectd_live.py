"""A real push agent: Debian's collectd (cpu, load, memory; write_http with Format
"JSON") posting every second to a live daphne, and a metric monitor on what it sends
going down through the state machine (SPEC §5, §9)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ingest.models import HostMetric, MetricSample
from monitors.checks import run_batch
from monitors.models import CheckResult, Monitor
from pulse import tenancy
from tests import live
from tests.conftest import Member
from tests.ingest.helpers import make_key
from tests.monitors.test_pipeline import claim_all, make, make_due

COLLECTD = shutil.which("collectd") or "/usr/sbin/collectd"
TYPES_DB = Path("/usr/share/collectd/types.db")
HOSTNAME = "collectd-live"

pytestmark = [
    pytest.mark.live,
    pytest.mark.timeout(240),
    pytest.mark.skipif(
        not Path(COLLECTD).exists() or not TYPES_DB.exists(),
        reason="collectd not installed (apt-get install collectd-core libyajl2)",
    ),
]


def collectd_config(base: Path, url: str, key: str) -> str:
    return f"""
Hostname "{HOSTNAME}"
FQDNLookup false
Interval 1
BaseDir "{base}"
PIDFile "{base}/collectd.pid"
TypesDB "{TYPES_DB}"
AutoLoadPlugin false
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "{base}/collectd.log"
</Plugin>
LoadPlugin cpu
LoadPlugin load
LoadPlugin memory
<LoadPlugin write_http>
  FlushInterval 1
</LoadPlugin>
<Plugin write_http>
  <Node "pulse">
    URL "{url}"
    Header "Authorization: Bearer {key}"
    Format "JSON"
    StoreRates true
    Timeout 5000
  </Node>
</Plugin>
"""


@contextmanager
def collectd(tmp_path: Path, url: str, key: str) -> Iterator[Path]:
    config = tmp_path / "collectd.conf"
    config.write_text(collectd_config(tmp_path, url, key))
    subprocess.run([COLLECTD, "-t", "-C", str(config)], check=True, timeout=10)  # syntax check
    with live.process("collectd", [COLLECTD, "-f", "-C", str(config)]):
        yield tmp_path / "collectd.log"


def names_seen(member: Member) -> set[str]:
    with tenancy.org_context(member.org.id):
        return set(HostMetric.objects.filter(host__name=HOSTNAME).values_list("name", flat=True))


def test_collectd_pushes_and_a_crossed_threshold_takes_a_monitor_down(
    owner: Member, outsider: Member, tmp_path: Path
) -> None:
    key = make_key(owner.org)
    monitor = make(
        owner,
        type="metric",
        config={"host": HOSTNAME, "metric": "memory.memory.used", "op": "gt", "threshold": 0},
    )
    access_log = live.ARTIFACTS / "daphne.log"
    offset = access_log.stat().st_size if access_log.exists() else 0
    with live.daphne() as base, collectd(tmp_path, f"{base}/v1/ingest/metrics", key) as log:
        wanted = {"memory.memory.used", "load.load.shortterm", "cpu.0.cpu.user"}
        try:
            # cpu rates need two readings: the first is null (skipped).
            live.wait_for(lambda: wanted <= names_seen(owner), timeout=120, interval=0.25)
        except TimeoutError:
            pytest.fail(f"collectd samples did not arrive; its log:\n{log.read_text()[-2000:]}")

        with tenancy.org_context(owner.org.id):
            used = MetricSample.objects.filter(name="memory.memory.used").order_by("-ts").first()
        assert used is not None and used.value > 0
        with tenancy.org_context(outsider.org.id):
            assert not MetricSample.objects.exists()

        statuses = []
        for _ in range(3):  # fail_threshold = 3: degraded, degraded, down
            make_due(monitor)
            run_batch([(c.monitor_id, c.due_at) for c in claim_all()])
            statuses.append(str(Monitor.all_orgs.get(id=monitor.id).status))
    assert statuses == ["degraded", "degraded", "down"]
    with tenancy.org_context(monitor.org_id):  # the system role only writes results
        result = CheckResult.objects.filter(monitor_id=monitor.id).order_by("-ts").first()
    assert result is not None and result.outcome == "fail"
    assert result.error.startswith(f"memory.memory.used > 0 on {HOSTNAME} (latest ")
    with access_log.open("rb") as fh:
        fh.seek(offset)
        posts = [line for line in fh.read().decode().splitlines() if "/v1/ingest/metrics" in line]
    assert posts and all('" 202 ' in line for line in posts), posts[:5]
