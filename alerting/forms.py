"""Forms for alert rules and maintenance windows. The services validate again and key
their errors by field (``name``, ``tags``, ``monitors``, ``cron``…); ``apply_errors``
puts each on its input."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast
from zoneinfo import ZoneInfo

from croniter import croniter
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from alerting.models import AlertRule, MonitorScope, RuleEvent
from monitors.models import Monitor
from notifications.models import Channel

TAG_SPLIT = re.compile(r"[\s,;]+")


class ServiceErrorsMixin(forms.Form):
    def needed_only_if(self, condition: bool, *names: str) -> None:
        """Inputs marked required (so the page says so) that only count for one choice
        of the form, e.g. the dates of a one-off window: drop their errors otherwise."""
        if not condition:
            for name in names:
                self.errors.pop(name, None)

    def apply_errors(self, exc: ValidationError) -> None:
        """A service's field-keyed errors onto the matching inputs; others on top."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for key, messages in exc.message_dict.items():
            self.add_error(key if key in self.fields else None, messages)


class ChipsWidget(forms.CheckboxSelectMultiple):
    """Checkboxes drawn as toggle chips (tags, events)."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"class": "chip-input", **(attrs or {})})


# ---------------------------------------------------------------- rules


class RuleForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(
        label="Name", max_length=200, help_text="For example “Production down → on-call”."
    )
    enabled = forms.BooleanField(label="Rule is on", required=False, initial=True)
    scope = forms.ChoiceField(
        label="Which monitors",
        choices=MonitorScope.choices,
        initial=MonitorScope.ALL,
        widget=forms.RadioSelect,
    )
    tags = forms.MultipleChoiceField(
        label="Tags",
        widget=ChipsWidget(),
        help_text="Monitors with any of these tags.",
        error_messages={"required": "Name at least one tag."},
    )
    new_tags = forms.CharField(
        label="Other tags",
        required=False,
        max_length=500,
        help_text="Tags no monitor has yet, separated by commas.",
    )
    monitors = forms.MultipleChoiceField(
        label="Monitors",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one monitor."},
    )
    events = forms.MultipleChoiceField(
        label="Events",
        choices=RuleEvent.choices,
        widget=ChipsWidget(),
        initial=[RuleEvent.DOWN, RuleEvent.RECOVERED],
        help_text="Degraded only notifies rules that ask for it.",
        error_messages={"required": "Choose at least one event."},
    )
    channels = forms.MultipleChoiceField(
        label="Send to",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one channel."},
    )
    repeat_minutes = forms.IntegerField(
        label="Repeat every (minutes)",
        required=False,
        min_value=1,
        max_value=10080,
        help_text="Remind while an incident stays down and unacknowledged. Empty: never.",
    )

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        monitors: list[Monitor],
        channels: list[Channel],
        tags: list[str],
        rule: AlertRule | None = None,
        rule_monitors: list[str] | None = None,
        rule_channels: list[str] | None = None,
    ) -> None:
        initial: dict[str, Any] = {}
        if rule is not None:
            initial = {
                "name": rule.name,
                "enabled": rule.enabled,
                "scope": rule.scope,
                "tags": list(rule.tags),
                "events": list(rule.events),
                "repeat_minutes": rule.repeat_minutes,
                "monitors": rule_monitors or [],
                "channels": rule_channels or [],
            }
        super().__init__(data, initial=initial)
        known = sorted({*tags, *(rule.tags if rule else [])})
        cast(forms.ChoiceField, self.fields["tags"]).choices = [(t, t) for t in known]
        cast(forms.ChoiceField, self.fields["monitors"]).choices = [
            (str(m.id), m.name) for m in monitors
        ]
        cast(forms.ChoiceField, self.fields["channels"]).choices = [
            (str(c.id), f"{c.name}{'' if c.enabled else ' (disabled)'}") for c in channels
        ]
        self.has_tags = bool(known)
        self.has_monitors = bool(monitors)
        self.has_channels = bool(channels)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        scope = data.get("scope")
        self.needed_only_if(scope == MonitorScope.TAG and not data.get("new_tags"), "tags")
        self.needed_only_if(scope == MonitorScope.LIST, "monitors")
        return data

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        extra = [t for t in TAG_SPLIT.split(data.get("new_tags") or "") if t]
        scope = data["scope"]
        return {
            "name": data["name"],
            "enabled": bool(data.get("enabled")),
            "scope": scope,
            "tags": [*data.get("tags", []), *extra] if scope == MonitorScope.TAG else [],
            "monitors": data.get("monitors", []) if scope == MonitorScope.LIST else [],
            "events": data.get("events", []),
            "channels": data.get("channels", []),
            "repeat_minutes": data.get("repeat_minutes"),
        }


# ---------------------------------------------------------------- maintenance


@cache
def timezone_choices() -> list[tuple[str, str]]:
    names = sorted(
        z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith("Etc/")
    )
    return [("UTC", "UTC"), *((z, z.replace("_", " ")) for z in names)]


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M")


class MaintenanceForm(ServiceErrorsMixin, forms.Form):
    ONE_OFF, RECURRING = "once", "recurring"

    name = forms.CharField(
        label="Name", max_length=200, help_text="For example “Database upgrade”."
    )
    schedule = forms.ChoiceField(
        label="Schedule",
        choices=[(ONE_OFF, "Once"), (RECURRING, "Recurring (cron)")],
        initial=ONE_OFF,
        widget=forms.RadioSelect,
    )
    timezone = forms.ChoiceField(
        label="Time zone",
        choices=timezone_choices,
        initial="UTC",
        help_text="Start, end and cron times are read in this zone.",
    )
    starts_at = forms.DateTimeField(
        label="Starts",
        error_messages={"required": "Enter when the window starts."},
        widget=LocalDateTimeInput(),
        input_formats=["%Y-%m-%dT%H:%M"],
    )
    ends_at = forms.DateTimeField(
        label="Ends",
        error_messages={"required": "Enter when the window ends."},
        widget=LocalDateTimeInput(),
        input_formats=["%Y-%m-%dT%H:%M"],
    )
    cron = forms.CharField(
        label="Cron expression",
        error_messages={"required": "Enter a cron expression, e.g. 0 3 * * 0."},
        max_length=100,
        help_text="Five fields: minute hour day month weekday. “0 3 * * 0” is Sundays 03:00.",
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )
    duration_minutes = forms.IntegerField(
        label="Lasts (minutes)",
        min_value=1,
        max_value=7 * 24 * 60,
        error_messages={"required": "Say how long each occurrence lasts."},
    )
    all_monitors = forms.ChoiceField(
        label="Monitors",
        choices=[("1", "All monitors"), ("0", "Chosen monitors")],
        initial="0",
        widget=forms.RadioSelect,
    )
    monitors = forms.MultipleChoiceField(
        label="Chosen monitors",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose monitors, or all monitors."},
    )

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        monitors: list[Monitor],
        initial: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(data, initial=dict(initial or {}))
        cast(forms.ChoiceField, self.fields["monitors"]).choices = [
            (str(m.id), m.name) for m in monitors
        ]
        self.has_monitors = bool(monitors)

    def _zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(str(self.cleaned_data.get("timezone") or "UTC"))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            return ZoneInfo("UTC")

    def clean_starts_at(self) -> datetime | None:
        return self._aware(self.cleaned_data.get("starts_at"))

    def clean_ends_at(self) -> datetime | None:
        return self._aware(self.cleaned_data.get("ends_at"))

    def _aware(self, value: datetime | None) -> datetime | None:
        """A datetime-local value read in the chosen zone (Django made it aware in the
        server's zone first: take its wall-clock time back)."""
        if value is None:
            return None
        naive = timezone.make_naive(value) if timezone.is_aware(value) else value
        return naive.replace(tzinfo=self._zone())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # The service reads an empty cron expression as a one-off window: each kind of
        # schedule asks for its own inputs here, on the right inputs.
        recurring = data.get("schedule") == self.RECURRING
        self.needed_only_if(recurring, "cron", "duration_minutes")
        self.needed_only_if(not recurring, "starts_at", "ends_at")
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if not recurring and starts and ends and ends <= starts:
            self.add_error("ends_at", "The end must come after the start.")
        self.needed_only_if(data.get("all_monitors") == "0", "monitors")
        return data

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        recurring = data["schedule"] == self.RECURRING
        all_monitors = data["all_monitors"] == "1"
        return {
            "name": data["name"],
            "timezone": data["timezone"],
            "cron": (data.get("cron") or "").strip() if recurring else "",
            "duration_minutes": data.get("duration_minutes") if recurring else None,
            "starts_at": None if recurring else data.get("starts_at"),
            "ends_at": None if recurring else data.get("ends_at"),
            "all_monitors": all_monitors,
            "monitors": [] if all_monitors else data.get("monitors", []),
        }


def next_occurrences(
    cron: str, tz: str, duration_minutes: int | None, *, count: int = 3, now: datetime | None = None
) -> list[tuple[datetime, datetime]]:
    """The next ``count`` (start, end) of a recurring window, in its own zone; [] when
    the expression or zone is not valid."""
    cron = (cron or "").strip()
    if not cron or not croniter.is_valid(cron):
        return []
    try:
        zone = ZoneInfo(tz or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return []
    local = (now or timezone.now()).astimezone(zone)
    it = croniter(cron, local)
    length = timedelta(minutes=duration_minutes or 0)
    out = []
    for _ in range(count):
        start = it.get_next(datetime)
        out.append((start, start + length))
    return out
