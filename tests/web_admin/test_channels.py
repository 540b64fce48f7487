"""Screen 10, channels: list, create/edit per kind (HTMX kind swap, field-level errors
from the service's config.* / secrets.* keys), write-only secrets (a planted canary
never appears in any page), send test against a real receiver, enable/disable, delete;
role and tenant checks."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.models import AuditLog
from notifications.models import Channel
from notifications.secrets import channel_secrets
from pulse import tenancy
from tests.conftest import Member
from tests.notifications.peers import HookReceiver
from tests.web_admin.conftest import HTMX, canary, html_of, make_channel, outbox_row, whsec


def fresh(channel: Channel) -> Channel:
    return Channel.all_orgs.get(id=channel.id)


def channels_of(member: Member) -> list[Channel]:
    return list(Channel.all_orgs.filter(org_id=member.org.id))


# ------------------------------------------------------------------ list


def test_the_list_shows_kind_state_and_last_delivery(owner: Member) -> None:
    ok = make_channel(owner, name="Ops hook")
    off = make_channel(
        owner,
        kind="slack",
        name="Team Slack",
        secrets={"url": "https://hooks.slack.com/services/T0/B0/x"},
    )
    Channel.all_orgs.filter(id=off.id).update(
        enabled=False, disabled_reason="disabled after: HTTP 410"
    )
    outbox_row(owner, ok, status="dead", attempts=8, last_error="HTTP 500")
    html = html_of(owner.client(), reverse("notifications_ui:channel_list"))
    assert "Ops hook" in html and "Team Slack" in html
    assert "Webhook" in html and "Slack" in html
    assert "Disabled" in html and "disabled after: HTTP 410" in html
    assert "Dead" in html  # the last delivery's status
    assert "Nothing sent yet" in html  # the Slack channel never delivered
    assert reverse("notifications_ui:channel_create") in html
    assert "Send test" in html


def test_an_empty_org_is_told_what_to_do(owner: Member, viewer: Member) -> None:
    html = html_of(owner.client(), reverse("notifications_ui:channel_list"))
    assert "No channels yet" in html and "route alerts to it with an alert rule" in html
    html = html_of(viewer.client(), reverse("notifications_ui:channel_list"))
    assert "Ask an admin or owner" in html
    assert reverse("notifications_ui:channel_create") not in html


# ------------------------------------------------------------------ create


def test_the_kind_picker_swaps_in_the_kinds_inputs(owner: Member) -> None:
    client = owner.client()
    url = reverse("notifications_ui:channel_create")
    page = html_of(client, url)
    assert 'id="channel-fields"' in page and 'name="config_to"' in page  # e-mail first
    fragment = html_of(client, url, data={"kind": "sms"}, HTTP_HX_TARGET="channel-fields", **HTMX)
    assert fragment.startswith('<fieldset class="fieldset type-fields" id="channel-fields"')
    assert "<html" not in fragment
    assert 'name="config_from_number"' in fragment and 'name="secrets_auth_token"' in fragment
    webhook = html_of(
        client, url, data={"kind": "webhook"}, HTTP_HX_TARGET="channel-fields", **HTMX
    )
    for name in ("secrets_url", "secrets_secret", "config_headers", "secrets_headers"):
        assert f'name="{name}"' in webhook
    # Without JS, the picker's own button re-renders the page for the chosen kind.
    refreshed = client.post(url, {"kind": "slack", "name": "Kept", "refresh": "1"})
    body = refreshed.content.decode()
    assert refreshed.status_code == 200 and 'name="secrets_url"' in body and 'value="Kept"' in body


def test_owner_creates_a_webhook_channel(owner: Member, hooks: HookReceiver) -> None:
    client = owner.client()
    response = client.post(
        reverse("notifications_ui:channel_create"),
        {
            "kind": "webhook",
            "name": "Ops hook",
            "secrets_url": hooks.url("ok", "create"),
            "config_headers": "X-Team: ops",
            "secrets_headers": "Authorization: Bearer t0ps3cr3t-token-value",
        },
    )
    [channel] = channels_of(owner)
    assert response.status_code == 302
    assert response["Location"] == reverse("notifications_ui:channel_detail", args=[channel.id])
    assert channel.kind == "webhook" and channel.name == "Ops hook"
    assert channel.config["headers"] == {"X-Team": "ops"}
    with tenancy.org_context(owner.org.id):
        secrets = channel_secrets(channel)
    assert secrets["url"] == hooks.url("ok", "create")
    assert secrets["headers"] == {"Authorization": "Bearer t0ps3cr3t-token-value"}
    assert secrets["secret"].startswith("whsec_")  # generated
    page = html_of(client, response["Location"])
    assert "Ops hook created" in page and "Send a test" in page


def test_owner_creates_email_and_sms_channels(owner: Member) -> None:
    client = owner.client()
    url = reverse("notifications_ui:channel_create")
    email = client.post(
        url,
        {
            "kind": "email",
            "name": "On-call mail",
            "config_to": "a@alpha.test, b@alpha.test",
            "config_starttls": "on",
        },
    )
    sms = client.post(
        url,
        {
            "kind": "sms",
            "name": "Pager",
            "config_to": "+14155550100",
            "config_from_number": "+14155550199",
            "secrets_account_sid": "AC" + "a" * 32,
            "secrets_auth_token": "b" * 32,
        },
    )
    assert email.status_code == 302 and sms.status_code == 302
    by_name = {c.name: c for c in channels_of(owner)}
    assert by_name["On-call mail"].config["to"] == ["a@alpha.test", "b@alpha.test"]
    assert by_name["Pager"].config == {"to": ["+14155550100"], "from_number": "+14155550199"}


def test_service_errors_land_on_the_right_inputs_and_nothing_is_written(owner: Member) -> None:
    client = owner.client()
    url = reverse("notifications_ui:channel_create")
    response = client.post(
        url,
        {
            "kind": "email",
            "name": "Bad mail",
            "config_to": "not-an-address",
            "config_host": "",
            "secrets_password": "pw-without-host",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(
        r'id="id_config_to_error".*?Not a valid e-mail address: not-an-address', html, re.S
    )
    assert re.search(r'id="id_config_host_error".*?need your own SMTP host', html, re.S)
    assert 'aria-invalid="true"' in html
    sms = client.post(
        url,
        {
            "kind": "sms",
            "name": "Pager",
            "config_to": "0415",
            "config_from_number": "+1415",
            "secrets_account_sid": "nope",
            "secrets_auth_token": "short",
        },
    )
    body = sms.content.decode()
    assert sms.status_code == 400
    assert re.search(r'id="id_config_to_error".*?E\.164', body, re.S)
    assert re.search(r'id="id_secrets_account_sid_error".*?AC followed by 32', body, re.S)
    assert re.search(r'id="id_secrets_auth_token_error".*?32 hexadecimal', body, re.S)
    hook = client.post(url, {"kind": "webhook", "name": "Hook", "secrets_url": "ftp://x"})
    assert re.search(
        r'id="id_secrets_url_error".*?http:// or https://', hook.content.decode(), re.S
    )
    headers = client.post(
        url,
        {
            "kind": "webhook",
            "name": "Hook",
            "secrets_url": "https://example.com/h",
            "config_headers": "Authorization: Bearer x",
        },
    )
    assert re.search(
        r'id="id_config_headers_error".*?looks like a credential', headers.content.decode(), re.S
    )
    missing = client.post(url, {"kind": "slack", "name": ""})
    body = missing.content.decode()
    assert 'id="id_name_error"' in body and 'id="id_secrets_url_error"' in body
    assert channels_of(owner) == []
    assert not AuditLog.all_orgs.filter(org_id=owner.org.id, action="channel.create").exists()


# ------------------------------------------------------------------ secrets


def test_secrets_never_appear_in_any_page(owner: Member, hooks: HookReceiver) -> None:
    url_token, header_token, password = canary("url"), canary("hdr"), canary("pw")
    signing = whsec("canary-signing")
    webhook = make_channel(
        owner,
        name="Canary hook",
        secrets={
            "url": hooks.url("ok", url_token),
            "secret": signing,
            "headers": {"Authorization": f"Bearer {header_token}"},
        },
    )
    slack_token = canary("slack")
    slack = make_channel(
        owner,
        kind="slack",
        name="Canary slack",
        secrets={"url": f"https://hooks.slack.com/services/T000/{slack_token}"},
    )
    email = make_channel(
        owner,
        kind="email",
        name="Canary mail",
        config={"to": "ops@alpha.test", "host": "smtp.example.com"},
        secrets={"username": "ops-user", "password": password},
    )
    sid, token = "AC" + "c0ffee42" * 4, "d15ea5e0" * 4
    sms = make_channel(
        owner,
        kind="sms",
        name="Canary sms",
        config={"to": "+14155550100", "from_number": "+14155550199"},
        secrets={"account_sid": sid, "auth_token": token},
    )
    outbox_row(owner, webhook, status="dead", last_error="HTTP 500 from 127.0.0.1")
    canaries = [
        url_token,
        header_token,
        password,
        signing,
        signing.removeprefix("whsec_"),
        slack_token,
        sid,
        token,
    ]
    client = owner.client()
    pages = [
        reverse("notifications_ui:channel_list"),
        reverse("notifications_ui:delivery_list"),
        reverse("notifications_ui:delivery_list") + "?status=dead",
        reverse("alerting:rule_create"),
        reverse("accounts:audit_log"),
    ]
    for channel in (webhook, slack, email, sms):
        pages += [
            reverse("notifications_ui:channel_detail", args=[channel.id]),
            reverse("notifications_ui:channel_edit", args=[channel.id]),
        ]
    rendered = {page: html_of(client, page) for page in pages}
    # A failing edit re-renders the form: what was typed is not echoed back either.
    retyped = canary("typed")
    failed = client.post(
        reverse("notifications_ui:channel_edit", args=[webhook.id]),
        {"name": "", "secrets_url": f"https://example.com/{retyped}", "secrets_secret": "bad"},
    )
    assert failed.status_code == 400
    rendered["edit (400)"] = failed.content.decode()
    for page, html in rendered.items():
        for secret in [*canaries, retyped]:
            assert secret not in html, (page, secret)
    edit = rendered[reverse("notifications_ui:channel_edit", args=[webhook.id])]
    assert edit.count("••• set — leave empty to keep") == 3  # url, signing secret, headers
    detail = rendered[reverse("notifications_ui:channel_detail", args=[webhook.id])]
    assert "url ••• set" in detail and "http://127.0.0.1:" in detail  # url_display only


def test_an_edit_that_leaves_secrets_empty_keeps_them(owner: Member, hooks: HookReceiver) -> None:
    signing = whsec("keep-me")
    channel = make_channel(
        owner, name="Keep", secrets={"url": hooks.url("ok", "keep"), "secret": signing}
    )
    client = owner.client()
    response = client.post(
        reverse("notifications_ui:channel_edit", args=[channel.id]),
        {
            "name": "Kept secrets",
            "secrets_url": "",
            "secrets_secret": "",
            "config_headers": "X-A: 1",
        },
    )
    assert response.status_code == 302
    channel = fresh(channel)
    with tenancy.org_context(owner.org.id):
        secrets = channel_secrets(channel)
    assert channel.name == "Kept secrets" and channel.config["headers"] == {"X-A": "1"}
    assert secrets["url"] == hooks.url("ok", "keep") and secrets["secret"] == signing
    # A new value replaces the stored one.
    client.post(
        reverse("notifications_ui:channel_edit", args=[channel.id]),
        {"name": "Kept secrets", "secrets_url": hooks.url("ok", "moved")},
    )
    with tenancy.org_context(owner.org.id):
        assert channel_secrets(fresh(channel))["url"] == hooks.url("ok", "moved")
    entry = AuditLog.all_orgs.filter(action="channel.update").order_by("-ts").first()
    assert entry is not None and entry.changes["encrypted_fields_changed"] == ["url"]


# ------------------------------------------------------------------ send test


def test_send_test_reaches_a_real_receiver_signed(owner: Member, hooks: HookReceiver) -> None:
    signing = whsec("send-test")
    hooks.signing_secrets.append(signing)
    channel = make_channel(
        owner, name="Live hook", secrets={"url": hooks.url("ok", "ui-test"), "secret": signing}
    )
    client = owner.client()
    response = client.post(reverse("notifications_ui:channel_test", args=[channel.id]))
    assert response.status_code == 302
    assert response["Location"] == reverse("notifications_ui:channel_detail", args=[channel.id])
    [hook] = [h for h in hooks.received if h.path_qs.endswith("/ui-test")]
    assert hook.verified is True and hook.headers["webhook-id"].startswith("test_")
    page = html_of(client, response["Location"])
    assert "Test sent (HTTP 200)" in page
    assert AuditLog.all_orgs.filter(action="channel.test", target_id=str(channel.id)).exists()


def test_a_failing_send_test_says_why(owner: Member, hooks: HookReceiver) -> None:
    channel = make_channel(owner, name="Broken hook", secrets={"url": hooks.url("fail", "ui-test")})
    client = owner.client()
    list_url = reverse("notifications_ui:channel_list")
    response = client.post(
        reverse("notifications_ui:channel_test", args=[channel.id]), {"next": list_url}
    )
    assert response["Location"] == list_url  # back where the button was
    page = html_of(client, list_url)
    assert "Test failed (HTTP 500)" in page and "flash--error" in page


# ------------------------------------------------------------------ enable, disable, delete


def test_disable_enable_and_delete(owner: Member) -> None:
    channel = make_channel(owner, name="Switch")
    client = owner.client()
    toggle = reverse("notifications_ui:channel_toggle", args=[channel.id])
    client.post(toggle, {"enabled": "0"})
    assert fresh(channel).enabled is False
    detail = html_of(client, reverse("notifications_ui:channel_detail", args=[channel.id]))
    assert "This channel is disabled" in detail and "Enable" in detail
    Channel.all_orgs.filter(id=channel.id).update(disabled_reason="disabled after: HTTP 410")
    client.post(toggle, {"enabled": "1"})
    assert fresh(channel).enabled is True and fresh(channel).disabled_reason == ""
    edit = html_of(client, reverse("notifications_ui:channel_edit", args=[channel.id]))
    assert 'data-confirm="Delete Switch?' in edit
    response = client.post(reverse("notifications_ui:channel_delete", args=[channel.id]))
    assert response["Location"] == reverse("notifications_ui:channel_list")
    assert channels_of(owner) == []
    assert AuditLog.all_orgs.filter(action="channel.delete", target_id=str(channel.id)).exists()


# ------------------------------------------------------------------ roles and tenants


def test_a_viewer_sees_no_edit_controls_and_is_refused(viewer: Member, owner: Member) -> None:
    channel = make_channel(owner, name="Ops hook")
    client = viewer.client()
    for url in (
        reverse("notifications_ui:channel_list"),
        reverse("notifications_ui:channel_detail", args=[channel.id]),
    ):
        html = html_of(client, url)
        assert "Ops hook" in html
        for control in (
            "Send test",
            "/edit",
            "/delete",
            "/toggle",
            'method="post" action="/notify',
        ):
            assert control not in html, (url, control)
    assert client.get(reverse("notifications_ui:channel_create")).status_code == 403
    assert (
        client.get(reverse("notifications_ui:channel_edit", args=[channel.id])).status_code == 403
    )
    posts = [
        (
            reverse("notifications_ui:channel_create"),
            {"kind": "webhook", "name": "x", "secrets_url": "https://example.com/h"},
        ),
        (reverse("notifications_ui:channel_edit", args=[channel.id]), {"name": "renamed"}),
        (reverse("notifications_ui:channel_test", args=[channel.id]), {}),
        (reverse("notifications_ui:channel_toggle", args=[channel.id]), {"enabled": "0"}),
        (reverse("notifications_ui:channel_delete", args=[channel.id]), {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    channel = fresh(channel)
    assert channel.name == "Ops hook" and channel.enabled
    assert len(channels_of(owner)) == 1


def test_an_operator_is_refused_too(operator: Member, owner: Member) -> None:
    channel = make_channel(owner, name="Ops hook")
    client = operator.client()
    assert (
        client.post(reverse("notifications_ui:channel_test", args=[channel.id])).status_code == 403
    )


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_orgs_channel_is_not_found(owner: Member, outsider: Member, method: str) -> None:
    channel = make_channel(owner, name="Alpha hook")
    client = outsider.client()
    urls = {
        "get": [
            reverse("notifications_ui:channel_detail", args=[channel.id]),
            reverse("notifications_ui:channel_edit", args=[channel.id]),
        ],
        "post": [
            reverse("notifications_ui:channel_edit", args=[channel.id]),
            reverse("notifications_ui:channel_test", args=[channel.id]),
            reverse("notifications_ui:channel_toggle", args=[channel.id]),
            reverse("notifications_ui:channel_delete", args=[channel.id]),
        ],
    }[method]
    for url in urls:
        response = getattr(client, method)(url, {"name": "stolen"} if method == "post" else None)
        assert response.status_code == 404, url
    assert "Alpha hook" not in html_of(client, reverse("notifications_ui:channel_list"))
    assert fresh(channel).name == "Alpha hook" and fresh(channel).enabled


def test_logged_out_visitors_are_sent_to_log_in(owner: Member) -> None:
    from django.test import Client

    response = Client().get(reverse("notifications_ui:channel_list"))
    assert response.status_code == 302 and "/login" in response["Location"]
