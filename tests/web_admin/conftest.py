"""Helpers for the admin-screen tests (channels, deliveries, rules, maintenance, API
keys, audit log, settings): objects made through the services, outbox rows written as
the engine would, and a real local webhook receiver."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from accounts.audit import Actor
from accounts.models import Role
from monitors.models import Monitor
from notifications.models import Channel, Notification
from notifications.services import channel_create
from pulse import tenancy
from tests.conftest import Member
from tests.notifications.peers import HookReceiver
from tests.web.conftest import monitor_for

HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(scope="module")
def hooks() -> Iterator[HookReceiver]:
    with HookReceiver() as receiver:
        yield receiver


def canary(label: str) -> str:
    """A unique, greppable secret-looking value (long enough to be masked in displays)."""
    return f"canary{label}{uuid.uuid4().hex}"


def whsec(seed: str) -> str:
    raw = (seed * 4).encode()[:32]
    return "whsec_" + base64.b64encode(raw).decode()


def make_channel(member: Member, **data: Any) -> Channel:
    data.setdefault("kind", "webhook")
    data.setdefault("name", f"{data['kind']} {uuid.uuid4().hex[:6]}")
    if data["kind"] == "webhook":
        data.setdefault("secrets", {"url": "http://127.0.0.1:9/hook"})
    with tenancy.org_context(member.org.id, user_id=member.user.id):
        return channel_create(actor=Actor(user=member.user), role=Role.OWNER, data=data)


def outbox_row(member: Member, channel: Channel, **fields: Any) -> Notification:
    fields.setdefault("event", "down")
    fields.setdefault("payload", {"type": "monitor.down", "monitor": {"name": "m"}, "check": {}})
    with tenancy.org_context(member.org.id):
        return Notification.objects.create(
            idempotency_key=uuid.uuid4().hex + uuid.uuid4().hex,
            channel=channel,
            event_id=uuid.uuid4(),
            **fields,
        )


def monitor(member: Member, name: str = "Checkout API", **data: Any) -> Monitor:
    return monitor_for(member, name=name, **data)


def html_of(client: Client, url: str, **kwargs: Any) -> str:
    response = client.get(url, **kwargs)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()
