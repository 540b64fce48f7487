"""Screen 11, alert rules: list, create (all / tag / list scopes), edit, delete, errors
on the right inputs, roles and tenants."""

from __future__ import annotations

import re

from django.urls import reverse

from accounts.audit import Actor
from accounts.models import AuditLog, Role
from alerting.models import AlertRule, AlertRuleChannel, AlertRuleMonitor
from alerting.services import rule_create
from notifications.models import Channel
from pulse import tenancy
from tests.conftest import Member
from tests.web_admin.conftest import html_of, make_channel, monitor


def make_rule(member: Member, channel: Channel, **data: object) -> AlertRule:
    data.setdefault("name", "Prod down")
    data.setdefault("events", ["down", "recovered"])
    data.setdefault("channels", [str(channel.id)])
    with tenancy.org_context(member.org.id, user_id=member.user.id):
        return rule_create(actor=Actor(user=member.user), role=Role.OWNER, data=dict(data))


def rules_of(member: Member) -> list[AlertRule]:
    return list(AlertRule.all_orgs.filter(org_id=member.org.id))


def links(rule: AlertRule) -> tuple[set[str], set[str]]:
    monitors = {
        str(i)
        for i in AlertRuleMonitor.all_orgs.filter(rule_id=rule.id).values_list(
            "monitor_id", flat=True
        )
    }
    channels = {
        str(i)
        for i in AlertRuleChannel.all_orgs.filter(rule_id=rule.id).values_list(
            "channel_id", flat=True
        )
    }
    return monitors, channels


def test_the_list_summarizes_each_rule(owner: Member) -> None:
    hook = make_channel(owner, name="Ops hook")
    api = monitor(owner, "Checkout API", tags=["prod"])
    make_rule(owner, hook, name="Everything")
    make_rule(owner, hook, name="Prod only", scope="tag", tags=["prod"], repeat_minutes=30)
    make_rule(owner, hook, name="Picked", scope="list", monitors=[str(api.id)], enabled=False)
    html = html_of(owner.client(), reverse("alerting:rule_list"))
    for text in (
        "Everything",
        "All monitors",
        "Prod only",
        "#prod",
        "every 30 min",
        "Picked",
        "1 monitor",
        "Off",
        "Ops hook",
        "recovered",
    ):
        assert text in html, text
    assert reverse("alerting:rule_create") in html


def test_empty_states_point_to_the_next_step(owner: Member, viewer: Member) -> None:
    client = owner.client()
    html = html_of(client, reverse("alerting:rule_list"))
    assert "Create a channel first" in html
    assert reverse("notifications_ui:channel_create") in html
    make_channel(owner, name="Ops hook")
    assert "Incidents open, but nobody is told" in html_of(client, reverse("alerting:rule_list"))
    assert "Ask an admin" in html_of(viewer.client(), reverse("alerting:rule_list"))


def test_owner_creates_rules_for_each_scope(owner: Member) -> None:
    hook = make_channel(owner, name="Ops hook")
    mail = make_channel(owner, kind="email", name="Ops mail", config={"to": "ops@alpha.test"})
    api = monitor(owner, "Checkout API", tags=["prod", "api"])
    web = monitor(owner, "Website", tags=["web"])
    client = owner.client()
    url = reverse("alerting:rule_create")
    form = html_of(client, url)
    # Tag chips from the monitors' tags, every monitor and channel as a choice.
    for text in ('value="prod"', 'value="web"', "Checkout API", "Website", "Ops hook", "Ops mail"):
        assert text in form, text
    base = {"name": "All down", "enabled": "on", "events": ["down"], "channels": [str(hook.id)]}
    assert client.post(url, {**base, "scope": "all"}).status_code == 302
    client.post(
        url,
        {
            **base,
            "name": "Tagged",
            "scope": "tag",
            "tags": ["prod"],
            "new_tags": "db, cache",
            "events": ["down", "degraded"],
            "channels": [str(hook.id), str(mail.id)],
            "repeat_minutes": "15",
        },
    )
    client.post(
        url,
        {**base, "name": "Listed", "scope": "list", "monitors": [str(web.id)], "tags": ["prod"]},
    )
    rules = {r.name: r for r in rules_of(owner)}
    assert rules["All down"].scope == "all" and rules["All down"].enabled
    tagged = rules["Tagged"]
    assert tagged.tags == ["cache", "db", "prod"] and tagged.events == ["down", "degraded"]
    assert tagged.repeat_minutes == 15
    assert links(tagged) == (set(), {str(hook.id), str(mail.id)})
    listed = rules["Listed"]
    assert listed.tags == []  # tags only count for the tag scope
    assert links(listed) == ({str(web.id)}, {str(hook.id)})
    assert str(api.id) not in links(listed)[0]
    assert AuditLog.all_orgs.filter(action="alert_rule.create").count() == 3


def test_errors_show_on_their_inputs_and_nothing_is_written(owner: Member) -> None:
    make_channel(owner, name="Ops hook")
    client = owner.client()
    response = client.post(
        reverse("alerting:rule_create"),
        {"name": "", "scope": "tag", "events": [], "channels": [], "repeat_minutes": "0"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_name_error"' in html
    assert re.search(r'id="id_events_error".*?Choose at least one event', html, re.S)
    assert 'id="id_repeat_minutes_error"' in html
    # What each scope needs (a tag, a monitor) and a channel are asked for on their inputs.
    service = client.post(
        reverse("alerting:rule_create"),
        {"name": "No tags", "scope": "tag", "events": ["down"], "channels": []},
    )
    body = service.content.decode()
    assert service.status_code == 400
    assert re.search(r'id="id_tags_error".*?Name at least one tag', body, re.S)
    assert re.search(r'id="id_channels_error".*?Choose at least one channel', body, re.S)
    listed = client.post(
        reverse("alerting:rule_create"),
        {"name": "No monitors", "scope": "list", "events": ["down"], "channels": []},
    )
    assert re.search(
        r'id="id_monitors_error".*?Choose at least one monitor', listed.content.decode(), re.S
    )
    assert rules_of(owner) == []


def test_owner_edits_and_deletes_a_rule(owner: Member) -> None:
    hook = make_channel(owner, name="Ops hook")
    mail = make_channel(owner, kind="email", name="Ops mail", config={"to": "ops@alpha.test"})
    api = monitor(owner, "Checkout API")
    rule = make_rule(owner, hook, name="Prod down")
    client = owner.client()
    url = reverse("alerting:rule_edit", args=[rule.id])
    form = html_of(client, url)
    assert 'value="Prod down"' in form
    assert re.search(rf'value="{hook.id}"[^>]*checked', form)
    response = client.post(
        url,
        {
            "name": "Checkout down",
            "scope": "list",
            "monitors": [str(api.id)],
            "events": ["down", "flapping"],
            "channels": [str(mail.id)],
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("alerting:rule_list")
    rule = AlertRule.all_orgs.get(id=rule.id)
    assert rule.name == "Checkout down" and not rule.enabled  # unticked
    assert rule.events == ["down", "flapping"]
    assert links(rule) == ({str(api.id)}, {str(mail.id)})
    assert 'data-confirm="Delete the rule Checkout down?' in html_of(client, url)
    deleted = client.post(reverse("alerting:rule_delete", args=[rule.id]))
    assert deleted.status_code == 302 and rules_of(owner) == []
    assert AuditLog.all_orgs.filter(action="alert_rule.delete", target_id=str(rule.id)).exists()


def test_a_viewer_sees_no_edit_controls_and_is_refused(owner: Member, viewer: Member) -> None:
    hook = make_channel(owner, name="Ops hook")
    rule = make_rule(owner, hook, name="Prod down")
    client = viewer.client()
    html = html_of(client, reverse("alerting:rule_list"))
    assert "Prod down" in html
    assert "/edit" not in html and "/delete" not in html and "New rule" not in html
    assert client.get(reverse("alerting:rule_create")).status_code == 403
    assert client.get(reverse("alerting:rule_edit", args=[rule.id])).status_code == 403
    data = {"name": "x", "scope": "all", "events": ["down"], "channels": [str(hook.id)]}
    assert client.post(reverse("alerting:rule_create"), data).status_code == 403
    assert client.post(reverse("alerting:rule_edit", args=[rule.id]), data).status_code == 403
    assert client.post(reverse("alerting:rule_delete", args=[rule.id])).status_code == 403
    assert [r.name for r in rules_of(owner)] == ["Prod down"]


def test_another_orgs_rule_is_not_found(owner: Member, outsider: Member) -> None:
    hook = make_channel(owner, name="Ops hook")
    rule = make_rule(owner, hook, name="Alpha rule")
    theirs = make_channel(outsider, name="Beta hook")
    client = outsider.client()
    assert client.get(reverse("alerting:rule_edit", args=[rule.id])).status_code == 404
    assert (
        client.post(reverse("alerting:rule_edit", args=[rule.id]), {"name": "x"}).status_code == 404
    )
    assert client.post(reverse("alerting:rule_delete", args=[rule.id])).status_code == 404
    assert "Alpha rule" not in html_of(client, reverse("alerting:rule_list"))
    # Alpha's channel offered in their form? No; and posting its id is refused.
    form = html_of(client, reverse("alerting:rule_create"))
    assert "Ops hook" not in form and "Beta hook" in form
    response = client.post(
        reverse("alerting:rule_create"),
        {"name": "Sneaky", "scope": "all", "events": ["down"], "channels": [str(hook.id)]},
    )
    assert response.status_code == 400 and 'id="id_channels_error"' in response.content.decode()
    assert rules_of(outsider) == [] and theirs.name == "Beta hook"
    assert AlertRule.all_orgs.get(id=rule.id).name == "Alpha rule"
