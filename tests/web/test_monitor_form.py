"""Screen 7, monitor create/edit/delete: type-specific inputs (swapped with HTMX),
service errors on the right inputs including config.<key>, nothing written on error,
roles."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from monitors.forms import MonitorForm, parse_headers
from monitors.models import Monitor
from tests.conftest import Member
from tests.web.conftest import htmx, monitor_for

ADVANCED = {
    "fail_threshold": "3",
    "recover_threshold": "2",
    "window": "20",
    "degraded_ratio": "20",
    "down_ratio": "50",
    "flap_high": "30",
    "flap_low": "25",
}


def form_data(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "http",
        "name": "Checkout",
        "interval_seconds": "60",
        "timeout_seconds": "10",
        "tags": "",
        "latency_degraded_ms": "",
        "config_method": "GET",
        "config_accepted_status": "200-299",
        "config_json_op": "eq",
        "config_follow_redirects": "on",
        "config_verify_tls": "on",
        **ADVANCED,
    }
    data.update(fields)
    return data


def test_the_create_page_offers_every_type_and_http_fields_first(owner: Member) -> None:
    html = owner.client().get(reverse("monitors:create")).content.decode()
    for kind in ("http", "tcp", "icmp", "dns", "push", "metric"):
        assert f'name="type" value="{kind}"' in html
    assert 'name="config_method"' in html and 'name="target"' in html
    assert 'name="config_host"' not in html  # another type's input
    assert 'hx-target="#type-fields"' in html
    assert '<details class="card disclosure">' in html  # advanced, collapsed


def test_changing_the_type_swaps_just_its_fieldset(owner: Member) -> None:
    response = owner.client().get(
        reverse("monitors:create"),
        {"type": "metric"},
        headers=htmx("type-fields"),
    )
    body = response.content.decode()
    assert body.startswith('<fieldset class="fieldset type-fields" id="type-fields">')
    assert 'name="config_host"' in body and 'name="config_threshold"' in body
    assert 'name="target"' not in body and "<html" not in body


def test_without_js_the_refresh_button_shows_the_new_types_inputs(owner: Member) -> None:
    response = owner.client().post(
        reverse("monitors:create"), {"type": "tcp", "name": "keep me", "refresh": "1"}
    )
    html = response.content.decode()
    assert response.status_code == 200 and 'value="keep me"' in html
    assert "Host and port" in html and 'name="config_send"' in html
    assert "field__error" not in html and not Monitor.all_orgs.exists()


def test_creating_an_http_monitor_with_assertions(owner: Member) -> None:
    data = form_data(
        name="Checkout API",
        target="https://example.com/health",
        tags="prod, API",
        latency_degraded_ms="800",
        config_method="POST",
        config_headers="Accept: application/json\nX-Token: abc",
        config_body='{"ping": true}',
        config_accepted_status="200-299, 304",
        config_keyword="ok",
        config_json_path="data.status",
        config_json_op="eq",
        config_json_expected="green",
        config_tls_expiry_days="7",
    )
    del data["config_follow_redirects"]  # unticked
    response = owner.client().post(reverse("monitors:create"), data)
    monitor = Monitor.all_orgs.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("monitors:detail", args=[monitor.id])
    assert monitor.tags == ["api", "prod"] and monitor.latency_degraded_ms == 800
    config = monitor.config
    assert config["method"] == "POST" and config["body"] == '{"ping": true}'
    assert config["headers"] == {"Accept": "application/json", "X-Token": "abc"}
    assert config["accepted_status"] == ["200-299", "304"]
    assert (config["json_path"], config["json_expected"]) == ("data.status", "green")
    assert config["follow_redirects"] is False and config["verify_tls"] is True
    assert config["tls_expiry_days"] == 7


@pytest.mark.parametrize(
    ("kind", "fields", "expected"),
    [
        ("tcp", {"target": "db.example.com:5432", "config_send": "PING"}, {"send": "PING"}),
        ("icmp", {"target": "example.com", "config_count": "5"}, {"count": 5}),
        (
            "dns",
            {
                "target": "example.com",
                "config_record_type": "MX",
                "config_expected": "10 mx.example.com.\n\n20 mx2.example.com.",
                "config_resolver": "1.1.1.1",
                "config_port": "53",
            },
            {"record_type": "MX", "expected": ["10 mx.example.com.", "20 mx2.example.com."]},
        ),
        (
            "push",
            {
                "config_grace_seconds": "120",
                "config_cron": "0 3 * * *",
                "config_tz": "Europe/Berlin",
            },
            {"grace_seconds": 120, "cron": "0 3 * * *", "tz": "Europe/Berlin"},
        ),
        (
            "metric",
            {
                "config_host": "web-1",
                "config_metric": "cpu.usage",
                "config_op": "gt",
                "config_threshold": "90",
                "config_for_seconds": "300",
            },
            {"host": "web-1", "threshold": 90.0, "for_seconds": 300},
        ),
    ],
)
def test_every_type_can_be_created(
    owner: Member, kind: str, fields: dict[str, str], expected: dict[str, Any]
) -> None:
    response = owner.client().post(
        reverse("monitors:create"), form_data(type=kind, name=f"a {kind}", **fields)
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    monitor = Monitor.all_orgs.get()
    assert monitor.type == kind
    assert {key: monitor.config[key] for key in expected} == expected


def field_error(html: str, field: str) -> str:
    """The error text rendered under one input (includes/field.html)."""
    marker = f'id="id_{field}_error"'
    assert marker in html, f"no error on {field}"
    start = html.index(marker)
    return html[start : html.index("</div>", start)]


def test_service_errors_land_on_their_inputs_and_nothing_is_written(owner: Member) -> None:
    data = form_data(
        target="not a url",
        interval_seconds="5",
        config_accepted_status="200-299, 7xx",
        config_json_op="gt",
        config_json_expected="",
        config_json_path="data[",
        config_headers="Bad header line",
    )
    response = owner.client().post(reverse("monitors:create"), data)
    html = response.content.decode()
    assert response.status_code == 400
    assert "Enter a full URL" in field_error(html, "target")
    assert "between 10 and 86400" in field_error(html, "interval_seconds")
    assert "write each header as Name: value" in field_error(html, "config_headers")
    # The type rules' config.<key> errors show in the same answer, on their inputs.
    assert "7xx" in field_error(html, "config_accepted_status")
    assert "Not a valid JSON path" in field_error(html, "config_json_path")
    assert "Enter the value to compare with" in field_error(html, "config_json_expected")
    assert 'aria-invalid="true"' in html
    assert not Monitor.all_orgs.exists()


def test_metric_and_push_errors_map_to_config_inputs(owner: Member) -> None:
    client = owner.client()
    html = client.post(
        reverse("monitors:create"), form_data(type="metric", config_host="", config_metric="")
    ).content.decode()
    assert "host name the agent reports" in field_error(html, "config_host")
    assert "metric name" in field_error(html, "config_metric")
    assert "Enter a number" in field_error(html, "config_threshold")
    html = client.post(
        reverse("monitors:create"),
        form_data(type="push", config_cron="every day", config_tz="Mars/Base"),
    ).content.decode()
    assert "Not a valid cron expression" in field_error(html, "config_cron")
    assert "Unknown time zone" in field_error(html, "config_tz")
    assert not Monitor.all_orgs.exists()


def test_bad_alert_settings_open_the_advanced_section(owner: Member) -> None:
    html = (
        owner.client()
        .post(
            reverse("monitors:create"),
            form_data(target="https://example.com", flap_low="40", flap_high="30", window="1"),
        )
        .content.decode()
    )
    assert '<details class="card disclosure" open>' in html
    assert "between 2 and 100" in field_error(html, "window")
    assert not Monitor.all_orgs.exists()
    form = MonitorForm(form_data(target="https://example.com", flap_low="40", flap_high="30"))
    assert not form.is_valid() and "flap_low" in form.errors


def test_the_form_hands_alert_settings_to_the_service_as_ratios() -> None:
    form = MonitorForm(form_data(target="https://example.com", degraded_ratio="10", window="30"))
    assert form.is_valid(), form.errors
    data = form.service_data()
    assert data["degraded_ratio"] == 0.1 and data["window"] == 30 and data["flap_low"] == 0.25


def test_alert_settings_are_saved(owner: Member) -> None:
    owner.client().post(
        reverse("monitors:create"),
        form_data(target="https://example.com", fail_threshold="5", down_ratio="60"),
    )
    monitor = Monitor.all_orgs.get()
    assert (monitor.fail_threshold, monitor.down_ratio) == (5, 0.6)


def test_editing_keeps_the_type_and_prefills_config(owner: Member) -> None:
    monitor = monitor_for(
        owner,
        name="Edit me",
        config={"headers": {"Accept": "text/html"}, "accepted_status": ["200", "301-302"]},
    )
    client = owner.client()
    html = client.get(reverse("monitors:edit", args=[monitor.id])).content.decode()
    assert "Accept: text/html" in html and 'value="200, 301-302"' in html
    assert 'name="type" value="tcp"' not in html  # no type picker when editing
    data = form_data(
        type="tcp",  # ignored: the type is fixed
        name="Edited",
        target="https://example.org/",
        config_headers="Accept: text/plain",
        config_accepted_status="200",
    )
    response = client.post(reverse("monitors:edit", args=[monitor.id]), data)
    assert response.status_code == 302
    monitor.refresh_from_db(using="system")
    assert monitor.name == "Edited" and monitor.type == "http"
    assert monitor.config["headers"] == {"Accept": "text/plain"}
    bad = client.post(reverse("monitors:edit", args=[monitor.id]), {**data, "target": "ftp://x"})
    assert bad.status_code == 400 and "Enter a full URL" in bad.content.decode()
    monitor.refresh_from_db(using="system")
    assert monitor.target == "https://example.org/"


def test_only_admins_create_edit_and_delete(
    owner: Member, operator: Member, viewer: Member, admin_member: Member
) -> None:
    monitor = monitor_for(owner, name="Guarded")
    for member in (operator, viewer):
        client = member.client()
        assert client.get(reverse("monitors:create")).status_code == 403
        assert (
            client.post(
                reverse("monitors:create"), form_data(target="https://a.example")
            ).status_code
            == 403
        )
        assert client.get(reverse("monitors:edit", args=[monitor.id])).status_code == 403
        assert client.post(reverse("monitors:delete", args=[monitor.id])).status_code == 403
    assert Monitor.all_orgs.count() == 1
    client = admin_member.client()
    html = client.get(reverse("monitors:edit", args=[monitor.id])).content.decode()
    assert 'data-confirm="Delete Guarded' in html
    response = client.post(reverse("monitors:delete", args=[monitor.id]))
    assert response.status_code == 302 and response["Location"] == reverse("monitors:list")
    assert not Monitor.all_orgs.exists()


def test_parse_headers() -> None:
    assert parse_headers("A: 1\n\n  B:two:three  ") == {"A": "1", "B": "two:three"}
    with pytest.raises(Exception, match="Line 1"):
        parse_headers("nonsense")
