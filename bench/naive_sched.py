"""The naive baseline's scheduler: ``python -m bench.naive_sched --until T ORG...``.

Every second: a plain ``SELECT ... WHERE next_check_at <= now()``, then per due monitor
one UPDATE of its next run and one task sent (queue ``naive``). No batching, no
look-ahead, no leases: what a simple implementation does."""

from __future__ import annotations

import argparse
import time
from datetime import timedelta


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--until", type=float, required=True, help="unix time to stop at")
    parser.add_argument("orgs", nargs="+")
    args = parser.parse_args()

    import django

    django.setup()
    from django.utils import timezone

    from bench.naive_tasks import naive_check
    from monitors.models import Monitor

    tick = time.time()
    while tick < args.until:
        due = Monitor.all_orgs.filter(
            org_id__in=args.orgs, paused=False, next_check_at__lte=timezone.now()
        ).order_by("next_check_at")
        for monitor in due:
            Monitor.all_orgs.filter(pk=monitor.pk).update(
                next_check_at=monitor.next_check_at + timedelta(seconds=monitor.interval_seconds)
            )
            naive_check.apply_async(
                args=(str(monitor.pk), monitor.next_check_at.isoformat()), queue="naive"
            )
        tick += 1.0
        time.sleep(max(0.0, tick - time.time()))


if __name__ == "__main__":
    main()
