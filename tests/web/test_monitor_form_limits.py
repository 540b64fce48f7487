"""The monitor form refuses out-of-range numbers and overlong text on the input they
belong to, for every input of every type: nothing reaches the database to fail there
("integer out of range", "value too long") as a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.urls import reverse

from monitors.forms import TYPE_FIELDS, MonitorForm
from monitors.models import Monitor
from tests.conftest import Member
from tests.web.test_monitor_form import field_error, form_data

TYPE_BASE: dict[str, dict[str, Any]] = {
    "http": {"target": "https://example.com/"},
    "tcp": {"target": "db.example.com:5432"},
    "icmp": {"target": "example.com"},
    "dns": {"target": "example.com", "config_record_type": "A"},
    "push": {},
    "metric": {
        "config_host": "web-1",
        "config_metric": "cpu.usage",
        "config_op": "gt",
        "config_threshold": "90",
    },
}
COMMON = ("name", "target", "interval_seconds", "timeout_seconds", "latency_degraded_ms", "tags")
ALERTING = ("fail_threshold", "recover_threshold", "window", "degraded_ratio", "down_ratio")


def inputs() -> list[tuple[str, str]]:
    """(type, input) for every bounded input the type shows."""
    fields = MonitorForm().fields
    out = []
    for kind, own in TYPE_FIELDS.items():
        for name in dict.fromkeys((*COMMON, *ALERTING, *own)):
            if name == "target" and "target" not in own:
                continue
            field = fields[name]
            # A float threshold has no column to overflow (config is jsonb, and the form
            # refuses inf and NaN); whole numbers and text do.
            if isinstance(field, forms.FloatField):
                continue
            if isinstance(field, forms.IntegerField | forms.CharField):
                out.append((kind, name))
    return out


def test_the_reported_latency_is_a_field_error_not_a_500(owner: Member) -> None:
    response = owner.client().post(
        reverse("monitors:create"),
        form_data(target="https://example.com", latency_degraded_ms="2147483648"),
    )
    assert response.status_code == 400
    assert "between 1 and 60000" in field_error(response.content.decode(), "latency_degraded_ms")
    assert not Monitor.all_orgs.exists()


@pytest.mark.parametrize(("kind", "name"), inputs())
def test_every_input_refuses_too_big(owner: Member, kind: str, name: str) -> None:
    field = MonitorForm().fields[name]
    if isinstance(field, forms.IntegerField):
        value = "2147483648"
    else:
        assert isinstance(field, forms.CharField) and field.max_length is not None
        value = "a" * (field.max_length + 1)
    data = form_data(type=kind, **{**TYPE_BASE[kind], name: value})
    form = MonitorForm(data)
    assert not form.is_valid()
    assert name in form.errors, form.errors
