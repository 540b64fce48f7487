"""monitors.limits is the one source of monitor bounds: each fits its database column,
and the form, the API serializer and the service all enforce the same numbers."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from rest_framework import serializers

from accounts.audit import Actor
from monitors import limits
from monitors.forms import MonitorForm
from monitors.models import Monitor
from monitors.serializers import MonitorCreateSerializer
from monitors.services import monitor_create
from pulse import tenancy
from tests.conftest import Member

INT_FIELDS = {
    "interval_seconds": limits.INTERVAL_SECONDS,
    "timeout_seconds": limits.TIMEOUT_SECONDS,
    "latency_degraded_ms": limits.LATENCY_DEGRADED_MS,
    **limits.ALERT_INTS,
}


def column_range(name: str) -> tuple[int, int]:
    field = Monitor._meta.get_field(name)
    low, high = connection.ops.integer_field_range(field.get_internal_type())
    assert low is not None and high is not None
    return int(low), int(high)


@pytest.mark.parametrize("name", sorted(INT_FIELDS))
def test_every_integer_bound_fits_its_column(name: str) -> None:
    low, high = column_range(name)
    bound = INT_FIELDS[name]
    assert low <= bound.whole_low and bound.whole_high <= high


def test_every_length_fits_its_column() -> None:
    tags: Any = Monitor._meta.get_field("tags")
    columns = {
        limits.NAME: Monitor._meta.get_field("name").max_length,
        limits.TARGET: Monitor._meta.get_field("target").max_length,
        limits.TAG: tags.base_field.max_length,
    }
    for limit, column in columns.items():
        assert column is not None and limit <= column


@pytest.mark.parametrize("name", sorted(INT_FIELDS))
def test_form_and_serializer_read_the_same_bounds(name: str) -> None:
    bound = INT_FIELDS[name]
    form_field = MonitorForm().fields[name]
    api_field = MonitorCreateSerializer().fields[name]
    assert isinstance(api_field, serializers.IntegerField)
    assert (form_field.min_value, form_field.max_value) == (bound.whole_low, bound.whole_high)  # type: ignore[attr-defined]
    assert (api_field.min_value, api_field.max_value) == (bound.whole_low, bound.whole_high)


def test_every_form_input_has_an_upper_bound() -> None:
    """The general audit: no integer input without a maximum, no text without a length."""
    for name, field in MonitorForm().fields.items():
        if name.startswith("config_") and name.removeprefix("config_") in limits.CONFIG_INTS:
            bound = limits.CONFIG_INTS[name.removeprefix("config_")]
            assert field.max_value == bound.whole_high, name  # type: ignore[attr-defined]
        if type(field).__name__ == "IntegerField":
            assert field.max_value is not None, name  # type: ignore[attr-defined]
        if type(field).__name__ == "CharField":
            assert field.max_length is not None, name  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("latency_degraded_ms", 2_147_483_648),
        ("latency_degraded_ms", int(limits.LATENCY_DEGRADED_MS.high) + 1),
        ("fail_threshold", 40_000),
        ("window", 101),
        ("tags", [f"t{i}" for i in range(limits.TAGS + 1)]),
    ],
)
def test_the_service_refuses_what_the_form_and_api_refuse(
    owner: Member, name: str, value: Any
) -> None:
    data = {"name": "Site", "type": "push", name: value}
    with tenancy.org_context(owner.org.id), pytest.raises(ValidationError) as excinfo:
        monitor_create(actor=Actor(user=owner.user), data=data)
    assert set(excinfo.value.message_dict) == {name}


def test_an_idna_host_cannot_stretch_a_url_past_the_column(owner: Member) -> None:
    # 1,990 characters typed; the IDNA form of the host is longer than the 2,000 stored.
    url = "https://" + "é" * 60 + ".test/" + "p" * (1990 - 8 - 66)
    assert len(url) <= limits.TARGET
    data = {"name": "Site", "type": "http", "target": url}
    with tenancy.org_context(owner.org.id), pytest.raises(ValidationError) as excinfo:
        monitor_create(actor=Actor(user=owner.user), data=data)
    assert set(excinfo.value.message_dict) == {"target"}
