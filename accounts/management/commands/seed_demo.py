"""Create the demo organization, login and monitors for ``make run``. Idempotent.

With PULSE_DEMO_TARGET_URL (set by ``make run``), the demo org gets monitors against a
small local service that is slow now and then, flaky, and down for a minute every
five, with a webhook channel and rules, so a first visit shows live statuses, charts
and an incident within a few minutes.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand

from accounts import services
from accounts.audit import Actor
from accounts.models import Membership, Role, User
from pulse import tenancy

DEMO_EMAIL = "demo@pulse.local"
DEMO_PASSWORD = "pulse-demo-password"  # noqa: S105 - the published local demo login


def demo_monitors(base: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "Shop home page",
            "type": "http",
            "target": f"{base}/",
            "interval_seconds": 30,
            "config": {"keyword": "Welcome"},
            "tags": ["shop"],
        },
        {
            "name": "Health endpoint",
            "type": "http",
            "target": f"{base}/health",
            "interval_seconds": 15,
            "timeout_seconds": 5,
            "tags": ["shop", "api"],
        },
        {
            "name": "Search API",
            "type": "http",
            "target": f"{base}/search",
            "interval_seconds": 20,
            "timeout_seconds": 5,
            "latency_degraded_ms": 500,
            "tags": ["api"],
        },
        {
            "name": "Checkout",
            "type": "http",
            "target": f"{base}/checkout",
            "interval_seconds": 20,
            "timeout_seconds": 5,
            "tags": ["shop", "payments"],
        },
        {
            "name": "Orders API",
            "type": "http",
            "target": f"{base}/api/orders",
            "interval_seconds": 20,
            "timeout_seconds": 5,
            "tags": ["api"],
            "config": {"json_path": "data.queue.depth", "json_op": "lt", "json_expected": 100},
        },
        {
            "name": "Demo target port",
            "type": "tcp",
            "target": base.removeprefix("http://").rstrip("/"),
            "interval_seconds": 30,
            "timeout_seconds": 5,
            "tags": ["infra"],
        },
        {
            "name": "Loopback ping",
            "type": "icmp",
            "target": "127.0.0.1",
            "interval_seconds": 30,
            "timeout_seconds": 5,
            "tags": ["infra"],
        },
        {
            "name": "Nightly backup",
            "type": "push",
            "target": "",
            "interval_seconds": 3600,
            "timeout_seconds": 10,
            "config": {"grace_seconds": 600},
            "tags": ["jobs"],
        },
    ]


class Command(BaseCommand):
    help = "Seed the demo org, user and monitors (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=DEMO_EMAIL).first()
        if user is None:
            user, _ = services.user_signup(
                email=DEMO_EMAIL, password=DEMO_PASSWORD, name="Demo User", org_name="Demo Org"
            )
            self.stdout.write(f"demo login created: {DEMO_EMAIL} / {DEMO_PASSWORD}")
        base = os.environ.get("PULSE_DEMO_TARGET_URL", "").rstrip("/")
        if not base:
            return
        with tenancy.org_context(None, user_id=user.id):
            membership = Membership.mine.filter(role=Role.OWNER).first()
        if membership is None:
            return
        with tenancy.org_context(membership.org_id, user_id=user.id):
            self._seed(user, base)

    def _seed(self, user: User, base: str) -> None:
        from alerting.models import AlertRule
        from alerting.services import rule_create
        from monitors.models import Monitor
        from monitors.services import monitor_create
        from notifications.models import Channel
        from notifications.services import channel_create

        actor = Actor(user=user)
        existing = set(Monitor.objects.values_list("name", flat=True))
        for data in demo_monitors(base):
            if data["name"] not in existing:
                monitor_create(actor=actor, data=data)
        # The demo target's port changes between runs: follow it.
        for data in demo_monitors(base):
            Monitor.objects.filter(name=data["name"]).update(target=data["target"])
        channel = Channel.objects.filter(name="Demo webhook").first()
        if channel is None:
            channel = channel_create(
                actor=actor,
                role=Role.OWNER,
                data={
                    "kind": "webhook",
                    "name": "Demo webhook",
                    "secrets": {"url": f"{base}/hooks"},
                },
            )
        if not AlertRule.objects.exists():
            rule_create(
                actor=actor,
                role=Role.OWNER,
                data={
                    "name": "Everything to the demo webhook",
                    "channels": [channel.id],
                    "events": ["down", "recovered", "flapping"],
                },
            )
        self.stdout.write(f"demo monitors ready against {base}")
