"""Screen 11, maintenance windows: one-off windows read in the chosen time zone,
recurring ones with a cron preview (next occurrences from croniter), the "active now"
badge, delete; errors on their inputs; roles and tenants."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.urls import reverse
from django.utils import timezone

from accounts.audit import Actor
from accounts.models import AuditLog, Role
from alerting.forms import next_occurrences
from alerting.models import MaintenanceWindow, MaintenanceWindowMonitor
from alerting.services import maintenance_create
from pulse import tenancy
from tests.conftest import Member
from tests.web_admin.conftest import HTMX, html_of, monitor


def windows_of(member: Member) -> list[MaintenanceWindow]:
    return list(MaintenanceWindow.all_orgs.filter(org_id=member.org.id))


def make_window(member: Member, **data: object) -> MaintenanceWindow:
    data.setdefault("name", "Upgrade")
    data.setdefault("all_monitors", True)
    with tenancy.org_context(member.org.id, user_id=member.user.id):
        return maintenance_create(actor=Actor(user=member.user), role=Role.OWNER, data=dict(data))


def test_a_one_off_window_is_read_in_the_chosen_time_zone(owner: Member) -> None:
    api = monitor(owner, "Checkout API")
    client = owner.client()
    response = client.post(
        reverse("alerting:maintenance_create"),
        {
            "name": "DB upgrade",
            "schedule": "once",
            "timezone": "Europe/Berlin",
            "starts_at": "2030-07-01T02:00",
            "ends_at": "2030-07-01T04:30",
            "all_monitors": "0",
            "monitors": [str(api.id)],
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("alerting:maintenance_list")
    [window] = windows_of(owner)
    berlin = ZoneInfo("Europe/Berlin")
    assert window.starts_at == datetime(2030, 7, 1, 2, 0, tzinfo=berlin)
    assert window.starts_at.astimezone(UTC) == datetime(2030, 7, 1, 0, 0, tzinfo=UTC)  # CEST
    assert window.ends_at == datetime(2030, 7, 1, 4, 30, tzinfo=berlin)
    assert window.timezone == "Europe/Berlin" and not window.cron and not window.all_monitors
    assert list(
        MaintenanceWindowMonitor.all_orgs.filter(window_id=window.id).values_list(
            "monitor_id", flat=True
        )
    ) == [api.id]
    html = html_of(client, reverse("alerting:maintenance_list"))
    # Shown in its own zone, as it was typed.
    assert "Jul 1, 2030 02:00" in html and "04:30" in html and "Europe/Berlin" in html
    assert "Scheduled" in html and "Checkout API" in html
    # The next form starts from the zone the org chose last.
    form = html_of(client, reverse("alerting:maintenance_create"))
    assert re.search(r'<option value="Europe/Berlin" selected>', form)


def test_a_recurring_window_shows_its_next_occurrences(owner: Member) -> None:
    client = owner.client()
    response = client.post(
        reverse("alerting:maintenance_create"),
        {
            "name": "Weekly backup",
            "schedule": "recurring",
            "timezone": "America/New_York",
            "cron": "0 3 * * 0",
            "duration_minutes": "90",
            "all_monitors": "1",
            "starts_at": "2030-01-01T00:00",
        },
    )
    assert response.status_code == 302
    [window] = windows_of(owner)
    assert window.cron == "0 3 * * 0" and window.duration_minutes == 90
    assert window.starts_at is None and window.all_monitors
    html = html_of(client, reverse("alerting:maintenance_list"))
    assert "0 3 * * 0" in html and "90 min" in html and "Recurring" in html
    assert "All monitors" in html and re.search(r"Next: <time[^>]*>Sun ", html)


def test_the_cron_preview_fragment(owner: Member) -> None:
    client = owner.client()
    url = reverse("alerting:maintenance_create")
    fragment = html_of(
        client,
        url,
        data={"cron": "30 2 * * 1", "timezone": "UTC", "duration_minutes": "60"},
        HTTP_HX_TARGET="cron-preview",
        **HTMX,
    )
    assert fragment.startswith('<div class="cron-preview" id="cron-preview"')
    assert "<html" not in fragment and fragment.count("<li>") == 3
    assert fragment.count("Mon, ") == 3 and "02:30" in fragment and "03:30" in fragment
    bad = html_of(client, url, data={"cron": "nope"}, HTTP_HX_TARGET="cron-preview", **HTMX)
    assert "Not a valid cron expression yet" in bad


def test_next_occurrences_follow_the_zone_across_dst() -> None:
    now = datetime(2030, 3, 8, 12, 0, tzinfo=UTC)  # US DST starts on Sunday, March 10
    starts = next_occurrences("0 3 * * *", "America/New_York", 60, now=now, count=2)
    assert [s.astimezone(UTC).hour for s, _ in starts] == [8, 7]  # EST then EDT
    assert all(end - start == timedelta(minutes=60) for start, end in starts)
    assert (
        next_occurrences("bad", "UTC", 5) == []
        and next_occurrences("* * * * *", "Nowhere/X", 5) == []
    )


def test_an_open_window_is_badged_active_now(owner: Member) -> None:
    now = timezone.now()
    make_window(
        owner,
        name="Right now",
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=1),
    )
    make_window(
        owner, name="Last week", starts_at=now - timedelta(days=7), ends_at=now - timedelta(days=6)
    )
    html = html_of(owner.client(), reverse("alerting:maintenance_list"))
    assert "Active now" in html and "status--maintenance" in html and "Ended" in html
    assert "1 window is open now" in html


def test_errors_show_on_their_inputs_and_nothing_is_written(owner: Member) -> None:
    client = owner.client()
    url = reverse("alerting:maintenance_create")
    once = client.post(
        url,
        {
            "name": "",
            "schedule": "once",
            "timezone": "UTC",
            "starts_at": "2030-07-01T04:00",
            "ends_at": "2030-07-01T02:00",
            "all_monitors": "0",
        },
    )
    assert once.status_code == 400
    html = once.content.decode()
    assert 'id="id_name_error"' in html
    named = client.post(
        url,
        {
            "name": "Backwards",
            "schedule": "once",
            "timezone": "UTC",
            "starts_at": "2030-07-01T04:00",
            "ends_at": "2030-07-01T02:00",
            "all_monitors": "0",
        },
    )
    body = named.content.decode()
    assert re.search(r'id="id_ends_at_error".*?The end must come after the start', body, re.S)
    assert re.search(r'id="id_monitors_error".*?Choose monitors, or all monitors', body, re.S)
    recurring = client.post(
        url,
        {
            "name": "Weekly",
            "schedule": "recurring",
            "timezone": "UTC",
            "cron": "",
            "all_monitors": "1",
        },
    )
    body = recurring.content.decode()
    assert re.search(r'id="id_cron_error".*?Enter a cron expression', body, re.S)
    assert 'id="id_duration_minutes_error"' in body
    bad_cron = client.post(
        url,
        {
            "name": "Weekly",
            "schedule": "recurring",
            "timezone": "UTC",
            "cron": "61 * * * *",
            "duration_minutes": "30",
            "all_monitors": "1",
        },
    )
    assert re.search(r'id="id_cron_error".*?Not a valid cron', bad_cron.content.decode(), re.S)
    zone = client.post(url, {"name": "Z", "schedule": "once", "timezone": "Mars/Olympus"})
    assert 'id="id_timezone_error"' in zone.content.decode()
    assert windows_of(owner) == []


def test_owner_deletes_a_window(owner: Member) -> None:
    window = make_window(
        owner, name="Done", starts_at=timezone.now(), ends_at=timezone.now() + timedelta(hours=1)
    )
    client = owner.client()
    html = html_of(client, reverse("alerting:maintenance_list"))
    assert 'data-confirm="Delete the maintenance window Done? It is open now' in html
    response = client.post(reverse("alerting:maintenance_delete", args=[window.id]))
    assert response.status_code == 302 and windows_of(owner) == []
    assert AuditLog.all_orgs.filter(action="maintenance.delete", target_id=str(window.id)).exists()
    assert "No maintenance windows" in html_of(client, reverse("alerting:maintenance_list"))


def test_a_viewer_sees_no_edit_controls_and_is_refused(owner: Member, viewer: Member) -> None:
    window = make_window(
        owner, name="Upgrade", starts_at=timezone.now(), ends_at=timezone.now() + timedelta(hours=1)
    )
    client = viewer.client()
    html = html_of(client, reverse("alerting:maintenance_list"))
    assert "Upgrade" in html and "/delete" not in html and "New window" not in html
    assert client.get(reverse("alerting:maintenance_create")).status_code == 403
    data = {
        "name": "x",
        "schedule": "recurring",
        "timezone": "UTC",
        "cron": "* * * * *",
        "duration_minutes": "5",
        "all_monitors": "1",
    }
    assert client.post(reverse("alerting:maintenance_create"), data).status_code == 403
    assert client.post(reverse("alerting:maintenance_delete", args=[window.id])).status_code == 403
    assert len(windows_of(owner)) == 1


def test_another_orgs_window_is_not_found(owner: Member, outsider: Member) -> None:
    window = make_window(
        owner,
        name="Alpha window",
        starts_at=timezone.now(),
        ends_at=timezone.now() + timedelta(hours=1),
    )
    api = monitor(owner, "Alpha API")
    client = outsider.client()
    assert client.post(reverse("alerting:maintenance_delete", args=[window.id])).status_code == 404
    assert "Alpha window" not in html_of(client, reverse("alerting:maintenance_list"))
    assert "Alpha API" not in html_of(client, reverse("alerting:maintenance_create"))
    sneaky = client.post(
        reverse("alerting:maintenance_create"),
        {
            "name": "Mute theirs",
            "schedule": "recurring",
            "timezone": "UTC",
            "cron": "* * * * *",
            "duration_minutes": "5",
            "all_monitors": "0",
            "monitors": [str(api.id)],
        },
    )
    assert sneaky.status_code == 400 and windows_of(outsider) == []
    assert len(windows_of(owner)) == 1
