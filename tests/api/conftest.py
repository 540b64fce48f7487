"""Fixtures for the /v1 API tests: clients with an API key or a session, and an org
with one of everything (monitors, results, an incident, a channel, a rule, a dead
notification, a maintenance window, an invitation)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.api_keys import api_key_create
from accounts.audit import Actor
from accounts.models import ApiKey, Invitation, Role
from alerting import services as alerting_services
from alerting.models import AlertRule, MaintenanceWindow
from incidents.models import EventKind, Incident, IncidentEvent
from monitors import services as monitor_services
from monitors.models import Monitor
from notifications import services as channel_services
from notifications.models import Channel, Notification, NotificationStatus
from pulse import tenancy
from pulse.db import SYSTEM_DB
from pulse.db.checks import MonitorUpdate, ResultRow, store_results
from tests.conftest import Member

JSON = "application/json"
PROBLEM = "application/problem+json"


@dataclass
class Api:
    """A /v1 client: JSON in, the response out; URLs by name."""

    client: Client
    headers: dict[str, Any] = field(default_factory=dict)

    def url(self, name: str, *args: Any) -> str:
        return reverse(name, args=[str(a) for a in args])

    def call(
        self,
        method: str,
        name: str,
        *args: Any,
        body: Any = None,
        query: dict[str, Any] | None = None,
        **extra: Any,
    ) -> Any:
        kwargs: dict[str, Any] = {**self.headers, **extra}
        path = self.url(name, *args)
        send = getattr(self.client, method.lower())
        if method.upper() == "GET":
            return send(path, query or {}, **kwargs)
        kwargs.setdefault("content_type", JSON)
        # No body: no bytes at all (the test client would send an empty multipart form).
        return send(path, "" if body is None else json.dumps(body), **kwargs)

    def get(self, name: str, *args: Any, **kw: Any) -> Any:
        return self.call("GET", name, *args, **kw)

    def post(self, name: str, *args: Any, **kw: Any) -> Any:
        return self.call("POST", name, *args, **kw)

    def put(self, name: str, *args: Any, **kw: Any) -> Any:
        return self.call("PUT", name, *args, **kw)

    def patch(self, name: str, *args: Any, **kw: Any) -> Any:
        return self.call("PATCH", name, *args, **kw)

    def delete(self, name: str, *args: Any, **kw: Any) -> Any:
        return self.call("DELETE", name, *args, **kw)


def make_key(member: Member, scopes: list[str], **kw: Any) -> str:
    with tenancy.org_context(member.org.id, user_id=member.user.id):
        _, full_key = api_key_create(
            actor=Actor(user=member.user),
            role=Role.OWNER,
            name=kw.pop("name", "test key"),
            scopes=scopes,
            **kw,
        )
    return full_key


def key_api(member: Member, scopes: list[str] | None = None) -> Api:
    key = make_key(member, scopes or ["read", "write"])
    return Api(Client(), {"HTTP_AUTHORIZATION": f"Bearer {key}"})


def session_api(member: Member) -> Api:
    return Api(member.client())


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:800]
    assert response["Content-Type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail", "instance", "request_id"} <= set(body)
    assert body["status"] == status
    return body


@pytest.fixture
def api(owner: Member) -> Api:
    """Alpha's owner through a read+write key (acts as an admin)."""
    return key_api(owner)


# ---------------------------------------------------------------- seed data


@dataclass
class Seeded:
    member: Member
    http: Monitor
    push: Monitor
    incident: Incident
    channel: Channel
    rule: AlertRule
    notification: Notification
    window: MaintenanceWindow
    invitation: Invitation
    api_key: ApiKey
    extra: dict[str, Any] = field(default_factory=dict)


def record_results(monitor: Monitor, outcomes: list[str]) -> None:
    now = timezone.now()
    rows = [
        ResultRow(
            monitor_id=monitor.id,
            org_id=monitor.org_id,
            due_at=now - timedelta(minutes=len(outcomes) - i),
            ts=now - timedelta(minutes=len(outcomes) - i, seconds=-1),
            outcome=outcome,
            latency_ms=12.5 if outcome != "fail" else None,
            status_code=200 if outcome != "fail" else 503,
            error="" if outcome != "fail" else "HTTP 503",
            details={},
        )
        for i, outcome in enumerate(outcomes)
    ]
    updates = {monitor.id: MonitorUpdate(status="up", machine_state={}, flapping=False)}
    with transaction.atomic(using=SYSTEM_DB):
        store_results(rows, updates)
        # store_results updates only monitors whose due time is in flight.
        Monitor.all_orgs.filter(id=monitor.id).update(status="up", last_check_at=rows[-1].ts)


def seed(member: Member) -> Seeded:
    actor, role = Actor(user=member.user), Role.OWNER
    with tenancy.org_context(member.org.id, user_id=member.user.id):
        http = monitor_services.monitor_create(
            actor=actor,
            data={"name": "API", "type": "http", "target": "https://api.example.com/health"},
        )
        push = monitor_services.monitor_create(
            actor=actor, data={"name": "Backup job", "type": "push", "tags": ["nightly"]}
        )
        channel = channel_services.channel_create(
            actor=actor,
            role=role,
            data={
                "kind": "webhook",
                "name": "Ops hook",
                "secrets": {"url": "https://hooks.pulse.invalid/abcdef0123456789"},
            },
        )
        rule = alerting_services.rule_create(
            actor=actor,
            role=role,
            data={"name": "Page ops", "events": ["down"], "channels": [channel.id]},
        )
        window = alerting_services.maintenance_create(
            actor=actor,
            role=role,
            data={
                "name": "Sunday patching",
                "cron": "0 3 * * 0",
                "duration_minutes": 60,
                "monitors": [http.id],
            },
        )
        incident = Incident.objects.create(
            monitor=http, title="API is down", cause="HTTP 503", opened_at=timezone.now()
        )
        IncidentEvent.objects.create(
            incident=incident, kind=EventKind.OPENED, actor_label="system:state-machine"
        )
        event_id = uuid.uuid4()
        notification = Notification.objects.create(
            idempotency_key=hashlib.sha256(
                f"{event_id}:{rule.id}:{channel.id}".encode()
            ).hexdigest(),
            channel=channel,
            rule=rule,
            incident=incident,
            monitor=http,
            event_id=event_id,
            event="down",
            payload={},
            status=NotificationStatus.DEAD,
            attempts=8,
            last_error="HTTP 500",
        )
        invitation, _ = account_services.invitation_create(
            actor=actor, actor_role=role, email="new@alpha.test", role=Role.VIEWER
        )
        key, _ = api_key_create(actor=actor, role=role, name="CI", scopes=["read"])
    record_results(http, ["ok", "ok", "fail"])
    return Seeded(
        member=member,
        http=http,
        push=push,
        incident=incident,
        channel=channel,
        rule=rule,
        notification=notification,
        window=window,
        invitation=invitation,
        api_key=key,
    )


@pytest.fixture
def alpha(owner: Member) -> Seeded:
    return seed(owner)
