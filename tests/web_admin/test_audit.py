"""Screen 15, the audit log: what each row shows, filters (action or action family,
actor, target type, date range), pages, the HTMX table fragment; admins and above
only; another org's entries never show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.urls import reverse

from accounts.audit import Actor, audit_record
from accounts.models import AuditLog
from tests.conftest import Member
from tests.web_admin.conftest import HTMX, html_of, make_channel


def record(
    member: Member, action: str, *, ts: datetime | None = None, **fields: object
) -> AuditLog:
    entry = audit_record(
        actor=Actor(user=member.user),
        action=action,
        org_id=member.org.id,
        target_type=str(fields.pop("target_type", "monitors.monitor")),
        target_id=str(fields.pop("target_id", "m-1")),
        target_label=str(fields.pop("target_label", "Checkout API")),
        changes=fields.pop("changes", {"name": ["old", "new"]}),  # type: ignore[arg-type]
        using="system",
    )
    if ts is not None:
        # Append-only for the runtime roles: backdate as the owner, like a fixture.
        from django.db import connections

        from pulse.db import OWNER_DB

        with connections[OWNER_DB].cursor() as cursor:
            # Row security is forced on the owner too: act as the org for this statement.
            cursor.execute("BEGIN")
            cursor.execute("SELECT set_config('app.current_org', %s, true)", [str(member.org.id)])
            cursor.execute("UPDATE audit_logs SET ts = %s WHERE id = %s", [ts, entry.id])
            assert cursor.rowcount == 1
            cursor.execute("COMMIT")
    return entry


def rows(html: str) -> int:
    return html.count('<td data-label="Action · target">')


def test_each_row_shows_who_did_what_to_what(owner: Member) -> None:
    make_channel(owner, name="Ops hook")  # writes channel.create through the service
    client = owner.client()
    html = html_of(client, reverse("accounts:audit_log"))
    assert "channel.create" in html and "Ops hook" in html and "notifications.channel" in html
    assert "owner@alpha.test" in html
    assert (
        '<details class="json-details">' in html and "&quot;kind&quot;: &quot;webhook&quot;" in html
    )
    assert "org.create" in html  # from sign-up
    assert "times in UTC" in html


def test_filters(owner: Member, admin_member: Member) -> None:
    now = datetime.now(UTC)
    record(owner, "monitor.update", ts=now - timedelta(days=10))
    record(owner, "monitor.delete", target_id="m-2")
    record(
        admin_member,
        "channel.update",
        target_type="notifications.channel",
        target_id="c-1",
        target_label="Ops hook",
    )
    client = owner.client()
    url = reverse("accounts:audit_log")
    everything = html_of(client, url)
    assert '<option value="monitor">Any monitor action</option>' in everything
    assert '<option value="admin@alpha.test">admin@alpha.test</option>' in everything

    def count(**query: str) -> int:
        return rows(html_of(client, url, data=query))

    total = count()
    assert count(action="monitor") == 2
    assert count(action="monitor.delete") == 1
    assert count(actor="admin@alpha.test") == 1
    assert count(target_type="notifications.channel") == 1
    since = (now - timedelta(days=2)).date().isoformat()
    assert count(action="monitor", since=since) == 1
    until = (now - timedelta(days=9)).date().isoformat()
    assert count(action="monitor", until=until) == 1
    assert count(action="no.such.action") == total  # not a choice: ignored, shown as an error
    assert "No entries match these filters" in html_of(
        client, url, data={"action": "monitor", "until": "2001-01-01"}
    )


def test_the_filters_refresh_the_table_fragment(owner: Member) -> None:
    response = owner.client().get(
        reverse("accounts:audit_log"), {"action": "org"}, HTTP_HX_TARGET="audit-table", **HTMX
    )
    body = response.content.decode()
    assert body.startswith('<div id="audit-table"') and "<html" not in body
    assert "org.create" in body


def test_pages_of_fifty(owner: Member) -> None:
    for i in range(55):
        record(owner, "monitor.update", target_id=f"m-{i}")
    client = owner.client()
    first = html_of(client, reverse("accounts:audit_log"))
    second = html_of(client, reverse("accounts:audit_log"), data={"page": 2})
    total = AuditLog.all_orgs.filter(org_id=owner.org.id).count()
    assert total >= 56  # + org.create from sign-up, and the log-ins
    assert rows(first) == 50 and rows(second) == total - 50
    assert f"1\u201350 of {total} entries" in first


def test_viewers_and_operators_get_403(owner: Member, viewer: Member, operator: Member) -> None:
    for member in (viewer, operator):
        client = member.client()
        assert client.get(reverse("accounts:audit_log")).status_code == 403
        assert reverse("accounts:audit_log") not in html_of(client, reverse("accounts:team"))


def test_another_orgs_entries_never_show(owner: Member, outsider: Member) -> None:
    make_channel(owner, name="Alpha secret plans")
    html = html_of(outsider.client(), reverse("accounts:audit_log"))
    assert "Alpha secret plans" not in html and "owner@alpha.test" not in html
    assert "outsider@beta.test" in html
