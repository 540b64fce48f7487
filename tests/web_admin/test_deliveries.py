"""Screen 10, the delivery log: filters (status incl. dead, channel, event), pages,
HTMX refresh of the table, a fixed number of queries, and dead letters retried from
the screen — one or all — then actually re-sent by the notifier."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditLog
from notifications import delivery
from notifications.models import Notification
from tests.conftest import Member
from tests.notifications.peers import HookReceiver
from tests.web_admin.conftest import HTMX, html_of, make_channel, monitor, outbox_row, whsec


def fresh(row: Notification) -> Notification:
    return Notification.all_orgs.get(id=row.id)


def test_the_log_shows_every_column_and_filters(owner: Member) -> None:
    api = monitor(owner, "Checkout API")
    hook = make_channel(owner, name="Ops hook")
    mail = make_channel(owner, kind="email", name="Ops mail", config={"to": "ops@alpha.test"})
    outbox_row(owner, hook, monitor=api, status="dead", attempts=8, last_error="HTTP 500 from x")
    outbox_row(owner, mail, monitor=api, status="sent", attempts=1, sent_at=timezone.now())
    outbox_row(owner, hook, event="recovered", status="failed", attempts=2, last_error="timeout")
    client = owner.client()
    url = reverse("notifications_ui:delivery_list")
    html = html_of(client, url)
    for text in (
        "Checkout API",
        "Ops hook",
        "Ops mail",
        "HTTP 500 from x",
        "timeout",
        "Dead",
        "Sent",
        "Retrying",
        "recovered",
    ):
        assert text in html, text
    assert "3 notifications" in html

    def count(query: dict[str, str]) -> int:
        return html_of(client, url, data=query).count('<tr id="delivery-')

    assert count({"status": "dead"}) == 1
    assert count({"status": "sent"}) == 1
    assert count({"channel": str(hook.id)}) == 2
    assert count({"event": "recovered"}) == 1
    assert count({"channel": str(hook.id), "status": "failed"}) == 1
    assert count({"status": "bogus", "channel": "not-a-uuid"}) == 3  # ignored, not a 500
    empty = html_of(client, url, data={"status": "sending"})
    assert "No notifications match these filters" in empty


def test_dead_letters_view_and_empty_states(owner: Member) -> None:
    client = owner.client()
    url = reverse("notifications_ui:delivery_list")
    assert "Nothing delivered yet" in html_of(client, url)
    dead = html_of(client, url, data={"status": "dead"})
    assert "<h1" in dead and "Dead letters" in dead and "No dead letters" in dead
    assert "Retry all dead" not in dead  # nothing to retry


def test_htmx_refresh_answers_with_the_table_only(owner: Member) -> None:
    hook = make_channel(owner, name="Ops hook")
    outbox_row(owner, hook, status="dead", attempts=8)
    response = owner.client().get(
        reverse("notifications_ui:delivery_list"),
        {"status": "dead"},
        HTTP_HX_TARGET="delivery-table",
        **HTMX,
    )
    body = response.content.decode()
    assert body.startswith('<div id="delivery-table"') and "<html" not in body
    assert 'hx-trigger="every 30s"' in body and "status=dead" in body
    assert "Retry all dead" in body
    assert "HX-Target" in response["Vary"]


def test_pages_of_fifty(owner: Member) -> None:
    hook = make_channel(owner, name="Ops hook")
    for _ in range(53):
        outbox_row(owner, hook)
    client = owner.client()
    url = reverse("notifications_ui:delivery_list")
    first, second = html_of(client, url), html_of(client, url, data={"page": 2})
    assert first.count('<tr id="delivery-') == 50 and second.count('<tr id="delivery-') == 3
    assert "1\u201350 of 53 notifications" in first


def test_the_log_runs_a_fixed_number_of_queries(
    owner: Member, django_assert_max_num_queries: Any
) -> None:
    """Seven SELECTs (session, user, membership, channels, count, page, switcher), each in
    its own short transaction (BEGIN/COMMIT: the org is set per transaction), however
    many rows, monitors and channels the page shows."""
    api = monitor(owner, "Checkout API")
    channels = [make_channel(owner, name=f"hook {i}") for i in range(3)]
    client = owner.client()
    url = reverse("notifications_ui:delivery_list")

    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get(url, {"status": "dead"}).status_code == 200
        return len(context)

    for i in range(4):
        outbox_row(owner, channels[i % 3], monitor=api, status="dead")
    small = queries()
    for i in range(40):
        other = monitor(owner, f"m{i}") if i % 10 == 0 else api
        outbox_row(owner, channels[i % 3], monitor=other, status="dead" if i % 2 else "sent")
    assert queries() == small
    with django_assert_max_num_queries(18):
        client.get(url, {"status": "dead"})


def test_a_dead_letter_retried_from_the_screen_is_sent_again(
    owner: Member, hooks: HookReceiver
) -> None:
    signing = whsec("retry-one")
    hooks.signing_secrets.append(signing)
    hook = make_channel(
        owner, name="Fixed hook", secrets={"url": hooks.url("ok", "retry-one"), "secret": signing}
    )
    row = outbox_row(owner, hook, status="dead", attempts=8, last_error="HTTP 503 earlier")
    client = owner.client()
    here = reverse("notifications_ui:delivery_list") + "?status=dead"
    page = html_of(client, here)
    assert reverse("notifications_ui:delivery_retry", args=[row.id]) in page
    response = client.post(
        reverse("notifications_ui:delivery_retry", args=[row.id]), {"next": here}
    )
    assert response.status_code == 302 and response["Location"] == here
    assert fresh(row).status == "pending" and fresh(row).attempts == 0
    assert "Retrying the down notice to Fixed hook" in html_of(client, here)
    # The notifier (driven in-process here) sends it, signed, with the same webhook-id.
    report = delivery.deliver(ids=[row.id])
    assert report.sent == 1 and fresh(row).status == "sent"
    [hook_call] = [h for h in hooks.received if h.path_qs.endswith("/retry-one")]
    assert hook_call.verified is True and hook_call.headers["webhook-id"] == row.idempotency_key
    entry = AuditLog.all_orgs.get(action="notification.retry", target_id=str(row.id))
    assert entry.changes == {"previous_error": "HTTP 503 earlier"}
    # A sent row cannot be retried: a clear message, no change.
    again = client.post(reverse("notifications_ui:delivery_retry", args=[row.id]), {"next": here})
    assert again.status_code == 302 and fresh(row).status == "sent"
    assert "Only dead or failed notifications can be retried" in html_of(client, here)


def test_retry_all_dead_resends_each_dead_row(owner: Member, hooks: HookReceiver) -> None:
    hook = make_channel(owner, name="Bulk hook", secrets={"url": hooks.url("ok", "retry-all")})
    other = make_channel(owner, name="Other hook", secrets={"url": hooks.url("ok", "retry-other")})
    dead = [outbox_row(owner, hook, status="dead", attempts=8) for _ in range(3)]
    elsewhere = outbox_row(owner, other, status="dead", attempts=8)
    sent = outbox_row(owner, hook, status="sent", attempts=1)
    client = owner.client()
    page = html_of(
        client,
        reverse("notifications_ui:delivery_list"),
        data={"status": "dead", "channel": str(hook.id)},
    )
    assert 'data-confirm="Retry all 3 dead notifications that match these filters?' in page
    response = client.post(
        reverse("notifications_ui:delivery_retry_dead"), {"channel": str(hook.id)}
    )
    assert response.status_code == 302
    assert [fresh(r).status for r in dead] == ["pending"] * 3
    assert fresh(elsewhere).status == "dead" and fresh(sent).status == "sent"
    assert delivery.deliver(ids=[r.id for r in dead]).sent == 3
    assert len([h for h in hooks.received if h.path_qs.endswith("/retry-all")]) == 3
    # Without a channel filter, every dead row of the org goes.
    client.post(reverse("notifications_ui:delivery_retry_dead"))
    assert fresh(elsewhere).status == "pending"
    nothing = client.post(reverse("notifications_ui:delivery_retry_dead"))
    assert nothing.status_code == 302
    assert "No dead notifications to retry" in html_of(client, nothing["Location"])


def test_a_viewer_sees_the_log_without_retry_buttons_and_is_refused(
    owner: Member, viewer: Member
) -> None:
    hook = make_channel(owner, name="Ops hook")
    row = outbox_row(owner, hook, status="dead", attempts=8)
    client = viewer.client()
    html = html_of(client, reverse("notifications_ui:delivery_list"), data={"status": "dead"})
    assert "Ops hook" in html
    assert "Retry all dead" not in html and "/retry" not in html
    assert client.post(reverse("notifications_ui:delivery_retry", args=[row.id])).status_code == 403
    assert client.post(reverse("notifications_ui:delivery_retry_dead")).status_code == 403
    assert fresh(row).status == "dead"


def test_another_orgs_notification_is_not_found(owner: Member, outsider: Member) -> None:
    hook = make_channel(owner, name="Alpha hook")
    row = outbox_row(owner, hook, status="dead", attempts=8)
    client = outsider.client()
    assert client.post(reverse("notifications_ui:delivery_retry", args=[row.id])).status_code == 404
    assert "Alpha hook" not in html_of(client, reverse("notifications_ui:delivery_list"))
    # Their "retry all" and a filter on our channel touch nothing of ours.
    client.post(reverse("notifications_ui:delivery_retry_dead"), {"channel": str(hook.id)})
    filtered = html_of(
        client, reverse("notifications_ui:delivery_list"), data={"channel": str(hook.id)}
    )
    assert '<tr id="delivery-' not in filtered
    assert fresh(row).status == "dead"
