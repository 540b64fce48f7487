"""A canary secret in every channel kind, pushed through failing sends (the notifier and
"send test"), updates and an inbound callback: it must appear in no log line and
nowhere in the database in plain text (SPEC §7: secrets encrypted at rest, never
logged)."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import structlog
from django.conf import settings
from django.db import connections, transaction
from django.test import Client, override_settings
from django.urls import include, path
from twilio.request_validator import RequestValidator

from accounts.audit import Actor
from notifications import delivery, services
from notifications.models import Channel, Notification, NotificationStatus, WebhookEvent
from pulse import tenancy
from pulse.db import OWNER_DB
from tests.conftest import Member
from tests.notifications.peers import FakeTwilio, HookReceiver, SmtpSink

urlpatterns = [path("v1/webhooks/", include("notifications.urls"))]
pytestmark = pytest.mark.urls(__name__)

# 32 lowercase hex characters: a valid Twilio auth token, and "AC" + it a valid SID.
CANARY = uuid.uuid4().hex


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    with SmtpSink(credentials=("alerts", "the-right-password")) as peer:
        yield peer


@pytest.fixture(scope="module")
def hooks() -> Iterator[HookReceiver]:
    with HookReceiver() as peer:
        yield peer


@pytest.fixture(scope="module")
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as peer:  # knows no account: every request is a 404 quoting the SID
        yield peer


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything logged, rendered by the production formatter (structlog's processor
    chain with the redaction), at DEBUG so third-party request logs are in too."""
    root = logging.getLogger()
    formatter = next(
        h.formatter
        for h in root.handlers
        if isinstance(h.formatter, structlog.stdlib.ProcessorFormatter)
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def tables_containing(needle: str) -> list[str]:
    """Tables with a row whose text form holds ``needle``, or its bytes in a bytea.

    Read as the owner, once per organization with that org set: every tenant table
    has FORCE ROW LEVEL SECURITY, so the owner sees one org's rows at a time (and every
    row of the tables without RLS); no runtime role may read every table."""
    hexed = needle.encode().hex()
    found: set[str] = set()
    with connections[OWNER_DB].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
            "ORDER BY 1"
        )
        tables = [row[0] for row in cursor.fetchall()]
        assert "notification_channels" in tables and "audit_logs" in tables
        cursor.execute("SELECT id::text FROM organizations")
        orgs = [row[0] for row in cursor.fetchall()]
    assert orgs
    for org in orgs:
        with transaction.atomic(using=OWNER_DB), connections[OWNER_DB].cursor() as cursor:
            cursor.execute("SELECT set_config('app.current_org', %s, true)", [org])
            for table in tables:
                # A row's text form renders text, json and arrays as written and bytea
                # as hex, so one scan covers every column type.
                cursor.execute(
                    f'SELECT count(*) FROM "{table}" AS t '
                    "WHERE strpos(t::text, %s) > 0 OR strpos(t::text, %s) > 0",
                    [needle, hexed],
                )
                if cursor.fetchone()[0]:
                    found.add(table)
    return sorted(found)


def create_channels(owner: Member, sink: SmtpSink, hooks: HookReceiver) -> list[Channel]:
    actor, role = Actor(user=owner.user), owner.membership.role
    specs = [
        {
            "kind": "email",
            "config": {
                "to": ["oncall@alpha.test"],
                "host": "127.0.0.1",
                "port": sink.port,
                "starttls": False,
            },
            "secrets": {"username": "alerts", "password": f"pw-{CANARY}"},  # 535 at login
        },
        {
            "kind": "sms",
            "config": {"to": ["+14155550100"], "from_number": "+14155550199"},
            "secrets": {"account_sid": f"AC{CANARY}", "auth_token": CANARY},
        },
        {"kind": "slack", "secrets": {"url": hooks.url("bad", f"services/T0/B0/{CANARY}")}},
        {
            "kind": "teams",
            "secrets": {
                "url": hooks.url(
                    "gone", f"workflows/wf/triggers/manual/paths/invoke?api-version=1&sig={CANARY}"
                )
            },
        },
        {
            "kind": "webhook",
            "config": {"headers": {"X-Team": "ops"}},
            "secrets": {
                "url": f"http://hook:{CANARY}@127.0.0.1:{hooks.port}/fail/{CANARY}?t={CANARY}",
                "headers": {"X-Api-Key": CANARY},
            },
        },
    ]
    with tenancy.org_context(owner.org.id, user_id=owner.user.id):
        return [
            services.channel_create(
                actor=actor, role=role, data={"name": f"{spec['kind']} channel", **spec}
            )
            for spec in specs
        ]


def test_the_canary_scan_finds_what_is_there(owner: Member) -> None:
    """The scan itself works: a marker in a tenant table (under RLS) is found."""
    marker = uuid.uuid4().hex
    with tenancy.org_context(owner.org.id):
        Channel.objects.create(kind="email", name=f"marker {marker}", config={})
    assert tables_containing(marker) == ["notification_channels"]


def test_a_canary_secret_leaks_into_no_log_and_no_table(
    owner: Member,
    sink: SmtpSink,
    hooks: HookReceiver,
    twilio: FakeTwilio,
    log_output: io.StringIO,
) -> None:
    channels = create_channels(owner, sink, hooks)
    actor, role = Actor(user=owner.user), owner.membership.role

    with tenancy.org_context(owner.org.id):
        rows = [
            Notification.objects.create(
                idempotency_key=uuid.uuid4().hex * 2,
                channel=channel,
                event_id=uuid.uuid4(),
                event="down",
                payload={"monitor": {"name": "API"}, "check": {"error": "refused"}},
            )
            for channel in channels
        ]
    with override_settings(TWILIO_API_BASE_URL=twilio.base_url, NOTIFY_MAX_ATTEMPTS=1):
        report = delivery.deliver(ids=[row.id for row in rows])
        with tenancy.org_context(owner.org.id, user_id=owner.user.id):
            tests = [
                services.channel_test(actor=actor, role=role, channel=channel)
                for channel in Channel.objects.filter(id__in=[c.id for c in channels])
            ]
            for channel in Channel.objects.filter(id__in=[c.id for c in channels]):
                services.channel_update(
                    actor=actor, role=role, channel=channel, data={"name": channel.name + "!"}
                )
                services.channel_public_config(channel)

    # A Twilio status callback signed with the canary token.
    form = {
        "AccountSid": f"AC{CANARY}",
        "MessageSid": "SM" + "0" * 32,
        "MessageStatus": "failed",
        "ErrorCode": "30007",
    }
    signature = RequestValidator(CANARY).compute_signature(
        settings.PUBLIC_URL + "/v1/webhooks/twilio/status", form
    )
    callback = Client().post(
        "/v1/webhooks/twilio/status",
        data=urlencode(form),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )

    # Everything failed the way it was meant to, with texts that say why.
    assert report.dead == 5 and report.sent == 0
    assert not any(outcome.ok for outcome in tests)
    assert callback.status_code == 204 and WebhookEvent.all_orgs.count() == 1
    errors = dict(
        Notification.all_orgs.filter(id__in=[r.id for r in rows]).values_list(
            "channel__kind", "last_error"
        )
    )
    assert errors["email"].startswith("SMTP 535 from 127.0.0.1: authentication failed")
    assert errors["sms"].startswith("Twilio HTTP 404, error 20404: The requested resource")
    assert errors["slack"].startswith(f"HTTP 400 from 127.0.0.1:{hooks.port}: bad for POST")
    assert errors["teams"].startswith(f"HTTP 410 from 127.0.0.1:{hooks.port}: gone for POST")
    assert errors["webhook"].startswith(f"HTTP 500 from 127.0.0.1:{hooks.port}: fail for POST")
    statuses = Notification.all_orgs.filter(id__in=[r.id for r in rows]).values_list(
        "status", flat=True
    )
    assert set(statuses) == {NotificationStatus.DEAD}
    assert Channel.all_orgs.get(kind="teams").enabled is False  # 410 disabled it
    # The receivers really saw the secrets (so there was something to leak).
    assert any(CANARY in hook.path_qs for hook in hooks.received)
    assert any(req.account_sid == f"AC{CANARY}" for req in twilio.requests)

    logged = log_output.getvalue()
    assert "[redacted]" in logged  # e.g. the twilio client's own request log lines
    assert "notify.http_failed" in logged
    assert CANARY not in logged
    assert tables_containing(CANARY) == []
