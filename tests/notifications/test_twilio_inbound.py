"""Twilio status callbacks: signature first (INV-4), then stored once per
(provider, external_id), then the notification annotated."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import connections
from django.http.response import HttpResponseBase
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import include, path, reverse
from twilio.request_validator import RequestValidator

from accounts.audit import Actor
from notifications import services
from notifications.models import Channel, Notification, NotificationStatus, WebhookEvent
from pulse import tenancy
from tests.conftest import Member

# The include pulse/urls.py is to carry; the tests use it directly so they do not
# depend on the project URLconf (test_the_callback_is_wired_under_v1_webhooks does).
urlpatterns = [path("v1/webhooks/", include("notifications.urls"))]
pytestmark = pytest.mark.urls(__name__)

PATH = "/v1/webhooks/twilio/status"
ACCOUNT = "AC" + "1f" * 16
TOKEN = "2e" * 16
MESSAGE_SID = "SM" + "3d" * 16


@dataclass
class Setup:
    channel: Channel
    notification: Notification


def _sms_channel(member: Member, account_sid: str, token: str) -> Channel:
    with tenancy.org_context(member.org.id, user_id=member.user.id):
        return services.channel_create(
            actor=Actor(user=member.user),
            role=member.membership.role,
            data={
                "kind": "sms",
                "name": "on-call phones",
                "config": {"to": ["+14155550100"], "from_number": "+14155550199"},
                "secrets": {"account_sid": account_sid, "auth_token": token},
            },
        )


@pytest.fixture
def setup(owner: Member) -> Setup:
    channel = _sms_channel(owner, ACCOUNT, TOKEN)
    with tenancy.org_context(owner.org.id):
        notification = Notification.objects.create(
            idempotency_key=uuid.uuid4().hex * 2,
            channel=channel,
            event_id=uuid.uuid4(),
            event="down",
            payload={},
            status=NotificationStatus.SENT,
            attempts=1,
            last_status_code=201,
            external_id=MESSAGE_SID,
        )
    return Setup(channel, notification)


def params(status: str = "delivered", **extra: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT,
        "ApiVersion": "2010-04-01",
        "From": "+14155550199",
        "To": "+14155550100",
        "MessageSid": MESSAGE_SID,
        "SmsSid": MESSAGE_SID,
        "MessageStatus": status,
        "SmsStatus": status,
        **extra,
    }


def signature(data: dict[str, str], *, token: str = TOKEN, url: str | None = None) -> str:
    return RequestValidator(token).compute_signature(url or settings.PUBLIC_URL + PATH, data)


def post(data: dict[str, str], sig: str | None) -> HttpResponseBase:
    headers = {} if sig is None else {"X-Twilio-Signature": sig}
    # enforce_csrf_checks: Twilio has no CSRF token; the view must not need one.
    return Client(enforce_csrf_checks=True).post(
        PATH,
        data=urlencode(data),
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )


def refreshed(notification: Notification) -> Notification:
    return Notification.all_orgs.get(id=notification.id)


def test_the_callback_url_name_resolves_to_the_status_path() -> None:
    assert reverse("twilio_status_callback") == PATH


@pytest.mark.urls("pulse.urls")
def test_the_callback_is_wired_under_v1_webhooks(live_db: None) -> None:
    """Fails until pulse/urls.py has path("v1/webhooks/", include("notifications.urls"))."""
    assert reverse("twilio_status_callback") == PATH


def forged(forgery: str) -> tuple[dict[str, str], str | None]:
    data = params()
    if forgery == "missing":
        return data, None
    if forgery == "garbage":
        return data, "bm90IGEgc2lnbmF0dXJl"
    if forgery == "other-url":
        return data, signature(data, url="https://evil.test" + PATH)
    if forgery == "other-token":
        return data, signature(data, token="9" * 32)
    if forgery == "unknown-account":
        data = params(AccountSid="AC" + "0" * 32)
        return data, signature(data)
    assert forgery == "tampered-param"
    return params(status="failed"), signature(data)  # signed as "delivered", sent as "failed"


def test_an_unverified_callback_is_403_and_writes_nothing(setup: Setup) -> None:
    # One database setup for all the forgeries: each live-db test costs a truncate.
    for forgery in (
        "missing",
        "garbage",
        "other-url",
        "other-token",
        "unknown-account",
        "tampered-param",
    ):
        data, sig = forged(forgery)
        with (
            CaptureQueriesContext(connections["system"]) as system_queries,
            CaptureQueriesContext(connections["default"]) as app_queries,
        ):
            response = post(data, sig)

        assert response.status_code == 403, forgery
        assert response["Content-Type"] == "application/problem+json"
        statements = [
            q["sql"] for q in system_queries.captured_queries + app_queries.captured_queries
        ]
        assert not [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
        assert WebhookEvent.all_orgs.count() == 0, forgery
        assert refreshed(setup.notification).last_error == "", forgery


def test_a_callback_sent_ten_times_at_once_is_recorded_once(setup: Setup) -> None:
    data = params("delivered")
    sig = signature(data)

    def deliver_once(_: int) -> int:
        try:
            return post(data, sig).status_code
        finally:
            for alias in connections:
                connections[alias].close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(pool.map(deliver_once, range(10)))

    assert codes == [204] * 10
    [event] = WebhookEvent.all_orgs.all()
    assert event.provider == "twilio"
    assert event.external_id == f"{MESSAGE_SID}:delivered"
    assert event.org_id == setup.channel.org_id
    assert event.payload["MessageStatus"] == "delivered"
    assert "AccountSid" not in event.payload  # kept only encrypted, in the channel
    notification = refreshed(setup.notification)
    assert notification.last_error == "twilio: delivered"
    assert notification.last_status_code == 201
    assert notification.status == NotificationStatus.SENT


def test_statuses_move_forward_only_and_keep_error_codes(setup: Setup) -> None:
    # A verified callback without a status is refused before anything is written.
    data = {k: v for k, v in params().items() if k not in ("MessageStatus", "SmsStatus")}
    assert post(data, signature(data)).status_code == 400
    assert WebhookEvent.all_orgs.count() == 0

    for status, extra in (
        ("sent", {}),
        ("undelivered", {"ErrorCode": "30003"}),
        ("sent", {}),  # arrives late: already recorded, and would go backwards anyway
        ("queued", {}),  # late and new: recorded, but does not overwrite
    ):
        data = params(status, **extra)
        assert post(data, signature(data)).status_code == 204
    notification = refreshed(setup.notification)
    assert notification.last_error == "twilio: undelivered (30003)"
    assert notification.last_status_code == 30003
    assert sorted(WebhookEvent.all_orgs.values_list("external_id", flat=True)) == [
        f"{MESSAGE_SID}:queued",
        f"{MESSAGE_SID}:sent",
        f"{MESSAGE_SID}:undelivered",
    ]


def test_another_orgs_channel_cannot_touch_this_orgs_notification(
    setup: Setup, outsider: Member
) -> None:
    # The outsider claims the same Twilio account with a token of their own choosing.
    forged_token = "7c" * 16
    theirs = _sms_channel(outsider, ACCOUNT, forged_token)
    data = params("failed", ErrorCode="30007")
    response = post(data, signature(data, token=forged_token))

    assert response.status_code == 204  # validly signed for *their* channel
    assert refreshed(setup.notification).last_error == ""
    [event] = WebhookEvent.all_orgs.all()
    assert event.org_id == theirs.org_id


def test_only_post_is_accepted() -> None:
    assert Client().get(PATH).status_code == 405
