"""Channel kinds: the registry (``CHANNEL_TYPES``, ``get_channel_type``) and the one
reading of a notification payload that every kind renders from (``summarize``).

The payload shape is ``alerting.engine._payload``: type, event_id, occurred_at, org,
monitor, incident, check, links. A test message (``channel_test``) has the same shape
with ``monitor``/``incident`` set to None.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from notifications.channels.base import ChannelType, Message

EVENT_TITLES = {
    "down": "Down",
    "degraded": "Degraded",
    "recovered": "Recovered",
    "flapping_started": "Flapping",
    "flapping_stopped": "Stopped flapping",
    "reminder": "Still down",
    "test": "Test notification",
}


class UnknownChannelKind(LookupError):
    pass


@dataclass(frozen=True)
class Summary:
    """What a human needs from an alert, flattened for the renderers."""

    event: str
    headline: str  # "Down: API health"
    event_title: str  # "Down"
    is_test: bool
    org: str
    monitor: str
    monitor_type: str
    target: str
    status: str
    error: str
    status_code: int | None
    latency_ms: float | None
    occurred_at: str
    incident_title: str
    link: str
    link_label: str


def _section(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = payload.get(key)
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def summarize(message: Message, *, public_url: str = "") -> Summary:
    payload = message.payload
    monitor, incident = _section(payload, "monitor"), _section(payload, "incident")
    check, links, org = (
        _section(payload, "check"),
        _section(payload, "links"),
        _section(payload, "org"),
    )
    event = message.event
    event_title = EVENT_TITLES.get(event, event.replace("_", " ").capitalize())
    name = _text(monitor.get("name"))
    is_test = event == "test"
    if is_test:
        headline = "Test notification from Pulse"
    else:
        headline = f"{event_title}: {name}" if name else event_title
    if links.get("incident"):
        link, label = _text(links["incident"]), "View incident"
    elif links.get("monitor"):
        link, label = _text(links["monitor"]), "View monitor"
    else:
        link, label = public_url, "Open Pulse"
    status_code = check.get("status_code")
    latency = check.get("latency_ms")
    return Summary(
        event=event,
        headline=headline,
        event_title=event_title,
        is_test=is_test,
        org=_text(org.get("name")),
        monitor=name,
        monitor_type=_text(monitor.get("type")),
        target=_text(monitor.get("target")),
        status=_text(monitor.get("status")) or ("test" if is_test else event),
        error=_text(check.get("error")),
        status_code=status_code if isinstance(status_code, int) else None,
        latency_ms=float(latency) if isinstance(latency, int | float) else None,
        occurred_at=_text(payload.get("occurred_at")),
        incident_title=_text(incident.get("title")),
        link=link,
        link_label=label,
    )


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."


# ---------------------------------------------------------------- validation helpers


class FieldErrors:
    """Collects ``{"config.to": [...], "secrets.url": [...]}`` and raises them at once."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def string_list(value: Any) -> list[str] | None:
    """A list of non-empty strings from a list or a comma/semicolon/space separated
    string; None when ``value`` is neither."""
    if value is None:
        return []
    if isinstance(value, str):
        return [item for item in re.split(r"[\s,;]+", value) if item]
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return [item.strip() for item in value if item.strip()]
    return None


def optional_str(mapping: Mapping[str, Any], key: str) -> str:
    value = mapping.get(key)
    return value.strip() if isinstance(value, str) else ""


# The kinds import the helpers above, so they are imported after them.
from notifications.channels.email import EmailChannel  # noqa: E402
from notifications.channels.slack import SlackChannel  # noqa: E402
from notifications.channels.sms import SmsChannel  # noqa: E402
from notifications.channels.teams import TeamsChannel  # noqa: E402
from notifications.channels.webhook import WebhookChannel  # noqa: E402

CHANNEL_TYPES: dict[str, ChannelType] = {
    channel.kind: channel
    for channel in (
        EmailChannel(),
        SmsChannel(),
        SlackChannel(),
        TeamsChannel(),
        WebhookChannel(),
    )
}


def get_channel_type(kind: str) -> ChannelType:
    try:
        return CHANNEL_TYPES[kind]
    except KeyError:
        raise UnknownChannelKind(f"unknown channel kind {kind!r}") from None


__all__ = [
    "CHANNEL_TYPES",
    "EVENT_TITLES",
    "ChannelType",
    "FieldErrors",
    "Summary",
    "UnknownChannelKind",
    "get_channel_type",
    "optional_str",
    "string_list",
    "summarize",
    "truncate",
]
