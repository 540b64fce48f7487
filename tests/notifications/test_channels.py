"""Channel kinds against real local peers: an SMTP sink, a webhook receiver and a fake
Twilio REST API driven through the real ``twilio`` client. Plus validation per field
and the channel services (write-only secrets, permissions, "send test")."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import json
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings

from accounts.audit import Actor
from accounts.models import AuditLog, Role
from notifications import services
from notifications.channels import CHANNEL_TYPES, UnknownChannelKind, get_channel_type
from notifications.channels.base import Delivery, Message, SendContext
from notifications.channels.http import parse_retry_after, url_display
from notifications.channels.webhook import normalize_secret
from notifications.models import Channel, Notification
from notifications.secrets import channel_secrets
from pulse import tenancy
from pulse.lib.mail import render_email
from tests.conftest import Member
from tests.monitors.peers import free_port
from tests.notifications.peers import FakeTwilio, HookReceiver, SmtpSink

ALLOW = ("127.0.0.1/32",)
PUBLIC_URL = "https://pulse.example.test"
INCIDENT_ID = "0190f0e0-0000-7000-8000-000000000001"
MONITOR_ID = "0190f0e0-0000-7000-8000-000000000002"
SID = "AC" + "a1" * 16
TOKEN = "b2" * 16


def ctx(**kw: Any) -> SendContext:
    # A generous timeout: only the timeout test is about it, and a busy machine must not
    # turn a slow local peer into a failed send.
    base = SendContext(allow_cidrs=ALLOW, production=False, timeout=10.0, public_url=PUBLIC_URL)
    return dataclasses.replace(base, **kw)


def down_message(attempt: int = 1, key: str | None = None) -> Message:
    """A notification shaped like alerting.engine._payload."""
    return Message(
        notification_id=str(uuid.uuid4()),
        idempotency_key=key or uuid.uuid4().hex * 2,
        event="down",
        attempt=attempt,
        payload={
            "type": "monitor.down",
            "event_id": str(uuid.uuid4()),
            "occurred_at": "2026-01-05T10:00:00+00:00",
            "org": {"id": str(uuid.uuid4()), "name": "Alpha & Co"},
            "monitor": {
                "id": MONITOR_ID,
                "name": "API health",
                "type": "http",
                "target": "https://api.example.com/health",
                "status": "down",
                "tags": ["prod"],
            },
            "incident": {
                "id": INCIDENT_ID,
                "title": "API health is down",
                "status": "open",
                "opened_at": "2026-01-05T10:00:00+00:00",
            },
            "check": {
                "outcome": "fail",
                "error": "connection refused <b>",
                "status_code": None,
                "latency_ms": 12.5,
                "checked_at": "2026-01-05T10:00:00+00:00",
            },
            "links": {
                "monitor": f"{PUBLIC_URL}/monitors/{MONITOR_ID}",
                "incident": f"{PUBLIC_URL}/incidents/{INCIDENT_ID}",
            },
        },
    )


def send(kind: str, config: dict[str, Any], secrets: dict[str, Any], **kw: Any) -> Delivery:
    message = kw.pop("message", None) or down_message()
    return asyncio.run(get_channel_type(kind).send(message, config, secrets, ctx(**kw)))


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as peer:
        yield peer


@pytest.fixture(scope="module")
def hooks() -> Iterator[HookReceiver]:
    with HookReceiver() as peer:
        yield peer


@pytest.fixture(scope="module")
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as peer:
        peer.add_account(SID, TOKEN)
        yield peer


@pytest.fixture(autouse=True)
def _reset_peers(request: pytest.FixtureRequest) -> None:
    for name in ("sink", "hooks", "twilio"):
        if name in request.fixturenames:
            peer = request.getfixturevalue(name)
            for attr in ("messages", "received", "requests", "created"):
                if hasattr(peer, attr):
                    getattr(peer, attr).clear()
            if isinstance(peer, SmtpSink):
                peer.refuse.clear()
            if isinstance(peer, FakeTwilio):
                peer.fail_with = None


def parse_mail(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


# ---------------------------------------------------------------- registry


def test_every_kind_is_registered_once() -> None:
    assert sorted(CHANNEL_TYPES) == ["email", "slack", "sms", "teams", "webhook"]
    assert get_channel_type("slack").kind == "slack"
    with pytest.raises(UnknownChannelKind):
        get_channel_type("carrier-pigeon")


# ---------------------------------------------------------------- e-mail


def email_config(sink: SmtpSink, **kw: Any) -> dict[str, Any]:
    return {
        "to": ["oncall@alpha.test", "ops@alpha.test"],
        "host": "127.0.0.1",
        "port": sink.port,
        "starttls": False,
        "from_email": "Pulse Alerts <alerts@pulse.test>",
    } | kw


def test_email_arrives_with_subject_text_and_html_parts(sink: SmtpSink) -> None:
    message = down_message()
    outcome = send("email", email_config(sink), {}, message=message)

    assert outcome.ok and outcome.status_code == 250 and not outcome.error
    [received] = sink.messages
    assert received.mail_from == "alerts@pulse.test"
    assert received.rcpt_tos == ["oncall@alpha.test", "ops@alpha.test"]
    mail = parse_mail(received.content)
    assert mail["Subject"] == "[Pulse] Down: API health (Alpha & Co)"
    assert mail["Message-ID"].strip() == f"<{message.idempotency_key}@pulse.test>"
    assert mail["Auto-Submitted"] == "auto-generated"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    text_body, html_body = text.get_content(), html.get_content()
    # Text is not HTML-escaped; HTML is.
    assert "Error:    connection refused <b>" in text_body
    assert f"{PUBLIC_URL}/incidents/{INCIDENT_ID}" in text_body
    assert "<h1>Down: API health</h1>" in html_body
    assert "connection refused &lt;b&gt;" in html_body
    assert f'href="{PUBLIC_URL}/incidents/{INCIDENT_ID}"' in html_body


def test_email_templates_render_a_test_message_as_a_triplet() -> None:
    from notifications.channels import summarize

    message = Message(
        notification_id="t",
        idempotency_key="t",
        event="test",
        payload={"org": {"name": "Alpha"}, "monitor": None, "links": {}},
    )
    subject, text, html = render_email(
        "alert", {"summary": summarize(message, public_url=PUBLIC_URL), "public_url": PUBLIC_URL}
    )
    assert subject == "[Pulse] Test notification from Pulse (Alpha)"
    assert "this channel works" in text and PUBLIC_URL in text
    assert "this channel works" in html and f'href="{PUBLIC_URL}"' in html


def test_email_logs_in_with_the_channel_credentials() -> None:
    with SmtpSink(credentials=("alerts", "s3cret-password")) as locked:
        ok = send(
            "email", email_config(locked), {"username": "alerts", "password": "s3cret-password"}
        )
        bad = send("email", email_config(locked), {"username": "alerts", "password": "wrong-one"})
        anonymous = send("email", email_config(locked), {})
    assert ok.ok and [m.login for m in locked.messages] == ["alerts"]
    assert not bad.ok and bad.permanent and bad.status_code == 535
    assert "authentication failed" in bad.error and "wrong-one" not in bad.error
    assert not anonymous.ok and anonymous.permanent and anonymous.status_code == 530


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [("550 5.1.1 <oncall@alpha.test>: no such user", True), ("451 4.3.0 try later", False)],
)
def test_email_refused_recipients_map_5xx_to_permanent_and_4xx_to_retry(
    sink: SmtpSink, reply: str, permanent: bool
) -> None:
    sink.refuse = {"oncall@alpha.test": reply}
    outcome = send("email", email_config(sink, to=["oncall@alpha.test"]), {})
    assert not outcome.ok and outcome.permanent is permanent
    assert outcome.status_code == int(reply[:3])
    assert f"SMTP {reply[:3]} from 127.0.0.1" in outcome.error
    assert sink.messages == []


def test_email_partly_refused_is_sent_with_a_note(sink: SmtpSink) -> None:
    sink.refuse = {"ops@alpha.test": "550 5.1.1 no such user"}
    outcome = send("email", email_config(sink), {})
    assert outcome.ok and "1 of 2 recipient(s) refused" in outcome.error
    assert sink.messages[0].rcpt_tos == ["oncall@alpha.test"]


def test_email_to_a_closed_port_is_retried() -> None:
    outcome = send(
        "email",
        {"to": ["a@alpha.test"], "host": "127.0.0.1", "port": free_port(), "starttls": False},
        {},
    )
    assert not outcome.ok and not outcome.permanent
    assert outcome.error == "cannot connect to 127.0.0.1: connection refused"


def test_email_starttls_the_server_lacks_is_permanent(sink: SmtpSink) -> None:
    outcome = send("email", email_config(sink, starttls=True), {})
    assert not outcome.ok and outcome.permanent and "STARTTLS" in outcome.error
    assert sink.messages == []


def test_email_host_outside_the_allow_list_is_refused_before_connecting(sink: SmtpSink) -> None:
    outcome = send("email", email_config(sink, host="127.0.0.2"), {})
    assert not outcome.ok and outcome.permanent
    assert outcome.error == "destination 127.0.0.2 is not a public address"
    outcome = send("email", email_config(sink, host="localhost"), {}, allow_cidrs=())
    assert not outcome.ok and outcome.permanent and "not a public address" in outcome.error
    assert sink.messages == []


def test_email_without_a_host_uses_the_platform_mail_settings(sink: SmtpSink) -> None:
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=sink.port,
        EMAIL_USE_TLS=False,
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
        DEFAULT_FROM_EMAIL="Pulse <platform@pulse.test>",
    ):
        outcome = send("email", {"to": ["oncall@alpha.test"]}, {})
    assert outcome.ok
    [received] = sink.messages
    assert received.mail_from == "platform@pulse.test"
    assert parse_mail(received.content).get_body(("html",)) is not None


# ---------------------------------------------------------------- Slack and Teams


def test_slack_posts_a_block_kit_message(hooks: HookReceiver) -> None:
    url = hooks.url("ok", "services/T000/B000/" + "x" * 24)
    outcome = send("slack", {}, {"url": url})
    assert outcome.ok and outcome.status_code == 200 and outcome.latency_ms is not None
    [hook] = hooks.received
    assert hook.headers["content-type"] == "application/json"
    body = hook.json()
    assert body["text"].startswith("Down: API health")
    blocks = body["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "actions", "context"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "Down: API health"}
    fields = {f["text"].split("\n")[0]: f["text"].split("\n", 1)[1] for f in blocks[1]["fields"]}
    assert fields["*Monitor*"] == "API health"
    assert fields["*Status*"] == "down"
    assert fields["*Error*"] == "connection refused &lt;b&gt;"  # mrkdwn escaping
    [button] = blocks[2]["elements"]
    assert button["type"] == "button" and button["style"] == "danger"
    assert button["url"] == f"{PUBLIC_URL}/incidents/{INCIDENT_ID}"
    assert all(len(f["text"]) <= 2000 for f in blocks[1]["fields"])


def test_teams_posts_a_message_with_an_adaptive_card(hooks: HookReceiver) -> None:
    outcome = send("teams", {}, {"url": hooks.url("accepted", "workflows/abc/triggers")})
    assert outcome.ok and outcome.status_code == 202
    body = hooks.received[0].json()
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    title, facts = card["body"]
    assert title["type"] == "TextBlock" and title["text"] == "Down: API health"
    assert title["color"] == "Attention"
    assert facts["type"] == "FactSet"
    assert {"title": "Error", "value": "connection refused <b>"} in facts["facts"]
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "View incident",
            "url": f"{PUBLIC_URL}/incidents/{INCIDENT_ID}",
        }
    ]


# ---------------------------------------------------------------- webhooks


def test_webhook_is_signed_and_keeps_its_id_across_retries(hooks: HookReceiver) -> None:
    secret = get_channel_type("webhook").validate({}, {"url": hooks.url("ok")}, has_secrets=False)[
        1
    ]["secret"]
    hooks.signing_secrets = [secret]
    secrets = {
        "url": hooks.url("ok", "hook?x=1"),
        "secret": secret,
        "headers": {"X-Api-Key": "k-123456"},
    }
    config = {"headers": {"X-Team": "ops"}}
    key = "f" * 64
    first = send("webhook", config, secrets, message=down_message(attempt=1, key=key))
    second = send("webhook", config, secrets, message=down_message(attempt=2, key=key))

    assert first.ok and second.ok
    assert [h.headers["webhook-id"] for h in hooks.received] == [key, key]
    assert all(h.verified is True for h in hooks.received)
    hook = hooks.received[0]
    assert hook.path_qs == "/ok/hook?x=1"
    assert hook.headers["x-team"] == "ops" and hook.headers["x-api-key"] == "k-123456"
    body = hook.json()
    assert body["type"] == "monitor.down" and body["event"] == "down"
    assert body["incident"]["id"] == INCIDENT_ID and body["links"]["incident"].endswith(INCIDENT_ID)
    # A receiver holding another secret rejects it.
    hooks.signing_secrets = [normalize_secret("A" * 44) or ""]
    send("webhook", config, secrets)
    assert hooks.received[-1].verified is False


@pytest.mark.parametrize(
    ("mode", "status", "permanent", "disable", "retry_after"),
    [
        ("fail", 500, False, False, None),
        ("timeout408", 408, False, False, None),
        ("limited", 429, False, False, 7.0),
        ("gone", 410, True, True, None),
        ("bad", 400, True, False, None),
        ("redirect", 302, True, False, None),
    ],
)
def test_http_status_maps_to_retry_or_dead(
    hooks: HookReceiver,
    mode: str,
    status: int,
    permanent: bool,
    disable: bool,
    retry_after: float | None,
) -> None:
    outcome = send("slack", {}, {"url": hooks.url(mode, "services/T0/B0/" + "k" * 24)})
    assert not outcome.ok
    assert outcome.status_code == status
    assert outcome.permanent is permanent
    assert outcome.disable_channel is disable
    assert outcome.retry_after == retry_after
    assert outcome.error.startswith(f"HTTP {status} from 127.0.0.1:{hooks.port}")
    if mode == "redirect":
        assert "redirects are not followed" in outcome.error
    # Only one request: nothing followed a redirect, nothing retried inside send().
    assert len(hooks.received) == 1


def test_retry_after_as_an_http_date(hooks: HookReceiver) -> None:
    outcome = send("teams", {}, {"url": hooks.url("limited-date")})
    assert outcome.status_code == 429 and not outcome.permanent
    assert outcome.retry_after is not None and 20 <= outcome.retry_after <= 31


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after("999999") == 3600  # capped
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0


def test_a_slow_receiver_times_out_and_is_retried(hooks: HookReceiver) -> None:
    outcome = send(
        "webhook", {}, {"url": hooks.url("slow"), "secret": normalize_secret("B" * 44)}, timeout=0.3
    )
    assert not outcome.ok and not outcome.permanent
    assert outcome.error == f"timed out after 0.3 s waiting for 127.0.0.1:{hooks.port}"


def test_a_closed_port_is_retried() -> None:
    port = free_port()
    outcome = send("slack", {}, {"url": f"http://127.0.0.1:{port}/services/x"})
    assert not outcome.ok and not outcome.permanent
    assert outcome.error == f"cannot connect to 127.0.0.1:{port}: connection refused"


def test_egress_guard_refuses_before_any_request(hooks: HookReceiver) -> None:
    # An IP literal outside the allow-list (aiohttp would skip the resolver for it).
    literal = send("slack", {}, {"url": hooks.url("ok", host="127.0.0.2")})
    # A name that resolves to loopback, with nothing allowed.
    named = send("slack", {}, {"url": hooks.url("ok", host="localhost")}, allow_cidrs=())
    # Plain http in production.
    plain = send("teams", {}, {"url": hooks.url("ok")}, production=True)
    for outcome in (literal, named, plain):
        assert not outcome.ok and outcome.permanent and outcome.status_code is None
    assert literal.error == "destination 127.0.0.2 is not a public address"
    assert "is not a public address" in named.error
    assert plain.error == "only https:// URLs are allowed"
    assert hooks.received == []


def test_error_texts_name_the_host_but_never_the_url(hooks: HookReceiver) -> None:
    key = "Zk" * 12
    # The receiver echoes the request path, query and headers in its error body.
    url = hooks.url("bad", f"services/T0/B0/{key}?token=tok-{key}")
    outcome = send("slack", {}, {"url": url})
    assert f"HTTP 400 from 127.0.0.1:{hooks.port}" in outcome.error
    assert key not in outcome.error and "[redacted]" in outcome.error


def test_credentials_in_both_url_and_authorization_header_are_refused(hooks: HookReceiver) -> None:
    url = f"http://user:pw@127.0.0.1:{hooks.port}/ok/hook"
    outcome = send(
        "webhook",
        {},
        {"url": url, "secret": normalize_secret("C" * 44), "headers": {"Authorization": "x"}},
    )
    assert not outcome.ok and outcome.permanent
    assert outcome.error == "the request could not be built from the URL and headers"
    assert hooks.received == []


def test_url_display_drops_credentials_and_shortens_tokens() -> None:
    shown = url_display("https://user:pw@hooks.example.com:8443/services/T0/" + "z" * 24 + "?sig=x")
    assert shown == "https://hooks.example.com:8443/services/T0/zzzz..."


# ---------------------------------------------------------------- SMS


def sms_config(**kw: Any) -> dict[str, Any]:
    return {"to": ["+14155550100"], "from_number": "+14155550199"} | kw


def test_sms_creates_a_message_at_twilio_through_the_real_client(twilio: FakeTwilio) -> None:
    outcome = send(
        "sms",
        sms_config(),
        {"account_sid": SID, "auth_token": TOKEN},
        extra={"twilio_base_url": twilio.base_url},
    )
    assert outcome.ok and outcome.status_code == 201
    [request] = twilio.requests
    [created] = twilio.created
    assert request.authorized and request.account_sid == SID
    assert outcome.external_id == created["sid"] and created["sid"].startswith("SM")
    assert request.form["To"] == "+14155550100" and request.form["From"] == "+14155550199"
    assert request.form["StatusCallback"] == f"{PUBLIC_URL}/v1/webhooks/twilio/status"
    body = request.form["Body"]
    assert body.startswith("Pulse Down: API health - connection refused")
    assert body.endswith(f"{PUBLIC_URL}/incidents/{INCIDENT_ID}") and len(body) <= 306
    assert body.isascii()


def test_sms_base_url_comes_from_settings_too(twilio: FakeTwilio) -> None:
    with override_settings(TWILIO_API_BASE_URL=twilio.base_url):
        outcome = send("sms", sms_config(), {"account_sid": SID, "auth_token": TOKEN})
    assert outcome.ok and len(twilio.created) == 1


@pytest.mark.parametrize(
    ("fail_with", "secrets", "status", "permanent"),
    [
        (None, {"auth_token": "c3" * 16}, 401, True),
        ((429, 20429, "Too Many Requests"), {}, 429, False),
        ((500, 20500, "Internal Server Error"), {}, 500, False),
        ((400, 21610, "Attempt to send to unsubscribed recipient"), {}, 400, True),
    ],
)
def test_sms_twilio_errors_4xx_are_permanent_except_429(
    twilio: FakeTwilio,
    fail_with: tuple[int, int, str] | None,
    secrets: dict[str, str],
    status: int,
    permanent: bool,
) -> None:
    twilio.fail_with = fail_with
    outcome = send(
        "sms",
        sms_config(),
        {"account_sid": SID, "auth_token": TOKEN} | secrets,
        extra={"twilio_base_url": twilio.base_url},
    )
    assert not outcome.ok and outcome.status_code == status and outcome.permanent is permanent
    assert outcome.error.startswith(f"Twilio HTTP {status}, error ")


def test_sms_unknown_account_error_does_not_quote_the_account_sid(twilio: FakeTwilio) -> None:
    other = "AC" + "d4" * 16
    outcome = send(
        "sms",
        sms_config(),
        {"account_sid": other, "auth_token": TOKEN},
        extra={"twilio_base_url": twilio.base_url},
    )
    assert outcome.status_code == 404 and outcome.permanent
    assert other not in outcome.error and "[redacted]" in outcome.error


def test_sms_to_several_numbers_reports_the_ones_that_failed(twilio: FakeTwilio) -> None:
    outcome = send(
        "sms",
        sms_config(to=["+14155550100", FakeTwilio.INVALID_NUMBER]),
        {"account_sid": SID, "auth_token": TOKEN},
        extra={"twilio_base_url": twilio.base_url},
    )
    assert outcome.ok and outcome.external_id == twilio.created[0]["sid"]
    assert "1 of 2 recipient(s) failed: Twilio HTTP 400, error 21211" in outcome.error


def test_sms_when_twilio_is_unreachable_is_retried() -> None:
    outcome = send(
        "sms",
        sms_config(),
        {"account_sid": SID, "auth_token": TOKEN},
        extra={"twilio_base_url": f"http://127.0.0.1:{free_port()}"},
    )
    assert not outcome.ok and not outcome.permanent
    assert outcome.error == "cannot connect to Twilio"


# ---------------------------------------------------------------- validation


def errors_of(
    kind: str, config: dict[str, Any], secrets: dict[str, Any], *, has_secrets: bool = False
) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        get_channel_type(kind).validate(config, secrets, has_secrets=has_secrets)
    return caught.value.message_dict


def test_validation_errors_name_the_field() -> None:
    assert set(errors_of("email", {"to": ["not-an-address"]}, {})) == {"config.to"}
    assert set(errors_of("email", {"to": []}, {})) == {"config.to"}
    assert set(
        errors_of("email", {"to": "a@b.test", "port": 70000, "host": "smtp.b.test"}, {})
    ) == {"config.port"}
    assert set(errors_of("email", {"to": "a@b.test"}, {"password": "x"})) == {
        "config.host",
        "secrets.username",
    }
    assert set(
        errors_of(
            "sms",
            {"to": ["0044 20 7946 0000"], "from_number": "+14155550199"},
            {"account_sid": SID, "auth_token": TOKEN},
        )
    ) == {"config.to"}
    assert set(errors_of("sms", sms_config(), {})) == {"secrets.account_sid", "secrets.auth_token"}
    assert set(errors_of("sms", sms_config(), {"account_sid": "AC123", "auth_token": TOKEN})) == {
        "secrets.account_sid"
    }
    assert set(errors_of("slack", {}, {})) == {"secrets.url"}
    assert set(errors_of("slack", {"url": "https://hooks.slack.com/x"}, {"url": "ftp://x"})) == {
        "config.url",
        "secrets.url",
    }
    assert set(errors_of("webhook", {}, {"url": "https://h.test/", "secret": "nope"})) == {
        "secrets.secret"
    }
    assert set(
        errors_of("webhook", {"headers": {"Authorization": "Bearer x"}}, {"url": "https://h.test/"})
    ) == {"config.headers"}
    assert set(
        errors_of("webhook", {"headers": {"webhook-id": "x"}}, {"url": "https://h.test/"})
    ) == {"config.headers"}


def test_validation_messages_never_repeat_a_secret_url() -> None:
    message = str(errors_of("teams", {}, {"url": "gopher://h.test/sig=TOPSECRET"}))
    assert "TOPSECRET" not in message


def test_https_is_required_in_production_and_private_literals_are_refused() -> None:
    with override_settings(IS_PROD=True, EGRESS_ALLOW_CIDRS=[]):
        assert errors_of("slack", {}, {"url": "http://hooks.slack.com/services/x"}) == {
            "secrets.url": ["The URL must use https://."]
        }
        assert "secrets.url" in errors_of("webhook", {}, {"url": "https://10.0.0.5/hook"})
        assert "config.host" in errors_of(
            "email", {"to": ["a@b.test"], "host": "169.254.169.254"}, {}
        )
    with override_settings(IS_PROD=False):
        config, secrets = get_channel_type("slack").validate(
            {}, {"url": "http://127.0.0.1:9/services/x"}, has_secrets=False
        )
    assert secrets == {"url": "http://127.0.0.1:9/services/x"}
    assert config == {"url_display": "http://127.0.0.1:9/services/x"}


def test_validation_normalizes_and_updates_may_omit_secrets() -> None:
    config, secrets = get_channel_type("sms").validate(
        {"to": "+14155550100, +14155550101", "from_number": "+14155550199"}, {}, has_secrets=True
    )
    assert config["to"] == ["+14155550100", "+14155550101"] and secrets == {}
    config, secrets = get_channel_type("webhook").validate(
        {"url_display": "https://h.test/hook"}, {}, has_secrets=True
    )
    assert config == {"url_display": "https://h.test/hook"} and secrets == {}
    _config, created = get_channel_type("webhook").validate(
        {}, {"url": "https://h.test/hook"}, has_secrets=False
    )
    assert created["secret"].startswith("whsec_") and normalize_secret(created["secret"])


# ---------------------------------------------------------------- services


def actor_of(member: Member) -> tuple[Actor, str]:
    return Actor(user=member.user), member.membership.role


def test_create_encrypts_secrets_and_audits_only_their_names(owner: Member) -> None:
    url = "https://hooks.slack.com/services/T0/B0/" + "s" * 24
    actor, role = actor_of(owner)
    with tenancy.org_context(owner.org.id, user_id=owner.user.id):
        channel = services.channel_create(
            actor=actor,
            role=role,
            data={"kind": "slack", "name": "#ops", "config": {}, "secrets": {"url": url}},
        )
        stored = Channel.objects.get(id=channel.id)
        assert stored.secrets is not None and url.encode() not in bytes(stored.secrets)
        assert stored.config == {"url_display": "https://hooks.slack.com/services/T0/B0/ssss..."}
        assert channel_secrets(stored) == {"url": url}
        assert services.channel_public_config(stored) == {
            "url_display": "https://hooks.slack.com/services/T0/B0/ssss...",
            "secrets_set": ["url"],
        }
        entry = AuditLog.objects.get(action="channel.create")
    assert entry.changes["encrypted_fields"] == ["url"]
    assert url not in json.dumps(entry.changes)


def test_update_keeps_secrets_it_was_not_given(owner: Member, hooks: HookReceiver) -> None:
    actor, role = actor_of(owner)
    with tenancy.org_context(owner.org.id, user_id=owner.user.id):
        channel = services.channel_create(
            actor=actor,
            role=role,
            data={"kind": "webhook", "name": "hook", "secrets": {"url": hooks.url("ok")}},
        )
        secret = channel_secrets(channel)["secret"]
        services.channel_update(
            actor=actor,
            role=role,
            channel=channel,
            data={
                "name": "renamed",
                "config": {"headers": {"X-Team": "ops"}},
                "secrets": {"url": "", "secret": None},
            },
        )
        channel = Channel.objects.get(id=channel.id)
        assert channel.name == "renamed" and channel.config["headers"] == {"X-Team": "ops"}
        assert channel_secrets(channel) == {"url": hooks.url("ok"), "secret": secret}
        new_url = hooks.url("fail", "hook/" + "T" * 20)
        services.channel_update(
            actor=actor, role=role, channel=channel, data={"secrets": {"url": new_url}}
        )
        channel = Channel.objects.get(id=channel.id)
        assert channel_secrets(channel) == {"url": new_url, "secret": secret}
        assert channel.config["url_display"] == hooks.url("fail", "hook/TTTT...")
        updates = list(AuditLog.objects.filter(action="channel.update").order_by("ts", "id"))
    assert "encrypted_fields_changed" not in updates[0].changes
    assert updates[0].changes["name"] == ["hook", "renamed"]
    assert updates[1].changes["encrypted_fields_changed"] == ["url"]
    assert "T" * 20 not in json.dumps(updates[1].changes)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR, None])
def test_only_admins_and_owners_write_channels(role: str | None) -> None:
    # The role is checked first, before any validation or database access.
    actor = Actor.system("test")
    with pytest.raises(PermissionDenied):
        services.channel_create(actor=actor, role=role, data={"kind": "slack", "name": "x"})
    channel = Channel(kind="slack", name="x", config={})
    with pytest.raises(PermissionDenied):
        services.channel_update(actor=actor, role=role, channel=channel, data={"name": "y"})
    with pytest.raises(PermissionDenied):
        services.channel_test(actor=actor, role=role, channel=channel)
    with pytest.raises(PermissionDenied):
        services.channel_delete(actor=actor, role=role, channel=channel)


def test_send_test_goes_out_now_and_leaves_the_outbox_alone(
    admin_member: Member, hooks: HookReceiver
) -> None:
    actor, role = actor_of(admin_member)
    with tenancy.org_context(admin_member.org.id, user_id=admin_member.user.id):
        channel = services.channel_create(
            actor=actor,
            role=role,
            data={"kind": "webhook", "name": "hook", "secrets": {"url": hooks.url("ok")}},
        )
        hooks.signing_secrets = [channel_secrets(channel)["secret"]]
        outcome = services.channel_test(actor=actor, role=role, channel=channel)
        assert outcome.ok
        assert Notification.objects.count() == 0
        entry = AuditLog.objects.get(action="channel.test")
        assert entry.changes == {"ok": True, "status_code": 200, "error": ""}
        services.channel_delete(actor=actor, role=role, channel=channel)
        assert not Channel.objects.filter(id=channel.id).exists()
        assert AuditLog.objects.filter(action="channel.delete").count() == 1
    [hook] = hooks.received
    body = hook.json()
    assert hook.verified is True and hook.headers["webhook-id"].startswith("test_")
    assert body["type"] == "test" and body["event"] == "test" and body["monitor"] is None
    assert body["org"]["name"] == "Alpha"


def test_create_rejects_an_unknown_kind_and_a_missing_name() -> None:
    actor = Actor.system("test")
    with pytest.raises(ValidationError) as unknown:
        services.channel_create(actor=actor, role=Role.ADMIN, data={"kind": "fax", "name": "x"})
    with pytest.raises(ValidationError) as nameless:
        services.channel_create(
            actor=actor, role=Role.ADMIN, data={"kind": "email", "name": " ", "config": {}}
        )
    assert "kind" in unknown.value.message_dict
    assert "name" in nameless.value.message_dict
