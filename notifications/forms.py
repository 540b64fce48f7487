"""Forms for the channel screens: one form per channel kind, built from the kind's
inputs, and the delivery-log filters.

Inputs are named after the service's error keys: ``config.to`` is the ``config_to``
input, ``secrets.url`` the ``secrets_url`` input, so a service ValidationError lands on
the input it is about. Secret inputs are write-only: their widgets never render a
value, not the stored one (which the form never has) and not the one just typed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError

from notifications.channels import EVENT_TITLES
from notifications.models import Channel, ChannelKind, NotificationStatus

SECRET_SET = "••• set — leave empty to keep"  # noqa: S105 - a placeholder, not a secret


class SecretInput(forms.TextInput):
    """A text input that never renders a value (the URL of a webhook may hold a key)."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        base = {"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}
        super().__init__({**base, **(attrs or {})})

    def format_value(self, value: Any) -> str | None:
        return None


class SecretTextarea(forms.Textarea):
    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        base = {"rows": 2, "autocomplete": "off", "spellcheck": "false"}
        super().__init__({**base, **(attrs or {})})

    def format_value(self, value: Any) -> str | None:
        return None


class SecretPassword(forms.PasswordInput):
    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"autocomplete": "new-password", **(attrs or {})}, render_value=False)


@dataclass(frozen=True)
class KindInfo:
    label: str
    icon: str
    help: str


KINDS: dict[str, KindInfo] = {
    ChannelKind.EMAIL: KindInfo("E-mail", "mail", "Plain text and HTML mail, via SMTP."),
    ChannelKind.SMS: KindInfo("SMS", "zap", "Text messages through your Twilio account."),
    ChannelKind.SLACK: KindInfo("Slack", "send", "A Block Kit message via an incoming webhook."),
    ChannelKind.TEAMS: KindInfo(
        "Microsoft Teams", "users", "An Adaptive Card via a Power Automate workflow."
    ),
    ChannelKind.WEBHOOK: KindInfo(
        "Webhook", "code", "Signed JSON to your endpoint (Standard Webhooks)."
    ),
}


def _lines(attrs: dict[str, Any] | None = None) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": 2, "spellcheck": "false", **(attrs or {})})


def _email_fields() -> dict[str, forms.Field]:
    return {
        "config_to": forms.CharField(
            label="Recipients",
            widget=_lines({"autocomplete": "off"}),
            help_text="E-mail addresses, separated by commas or new lines.",
        ),
        "config_from_email": forms.CharField(
            label="Sender",
            required=False,
            max_length=254,
            help_text="Like Alerts <alerts@example.com>. Empty: Pulse's own sender.",
        ),
        "config_host": forms.CharField(
            label="SMTP host",
            required=False,
            max_length=253,
            help_text="Your own mail server. Empty: send through Pulse's mail relay.",
        ),
        "config_port": forms.IntegerField(
            label="SMTP port",
            required=False,
            min_value=1,
            max_value=65535,
            help_text="Default 587 with STARTTLS, 25 without.",
        ),
        "config_starttls": forms.BooleanField(label="Use STARTTLS", required=False, initial=True),
        "secrets_username": forms.CharField(
            label="SMTP user name", required=False, max_length=254, widget=SecretInput()
        ),
        "secrets_password": forms.CharField(
            label="SMTP password", required=False, max_length=1000, widget=SecretPassword()
        ),
    }


def _sms_fields() -> dict[str, forms.Field]:
    return {
        "config_to": forms.CharField(
            label="Phone numbers",
            widget=_lines({"autocomplete": "off"}),
            help_text="International E.164 numbers (+14155550100), separated by commas.",
        ),
        "config_from_number": forms.CharField(
            label="From number",
            max_length=20,
            help_text="Your Twilio number, in E.164 format.",
            widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
        ),
        "secrets_account_sid": forms.CharField(
            label="Account SID",
            max_length=64,
            widget=SecretInput(),
            help_text="AC followed by 32 hexadecimal characters.",
        ),
        "secrets_auth_token": forms.CharField(
            label="Auth token", max_length=64, widget=SecretPassword()
        ),
    }


def _url_field(label: str, help_text: str) -> dict[str, forms.Field]:
    return {
        "secrets_url": forms.CharField(
            label=label,
            max_length=2048,
            widget=SecretInput({"inputmode": "url"}),
            help_text=help_text,
        )
    }


def _slack_fields() -> dict[str, forms.Field]:
    return _url_field(
        "Incoming webhook URL",
        "From Slack: Apps → Incoming Webhooks. Stored encrypted, never shown again.",
    )


def _teams_fields() -> dict[str, forms.Field]:
    return _url_field(
        "Workflow URL",
        "A Power Automate “when a webhook request is received” workflow. "
        "Stored encrypted, never shown again.",
    )


def _webhook_fields() -> dict[str, forms.Field]:
    return {
        **_url_field("Endpoint URL", "Pulse POSTs JSON here. Stored encrypted."),
        "secrets_secret": forms.CharField(
            label="Signing secret",
            required=False,
            max_length=200,
            widget=SecretPassword(),
            help_text="whsec_… (Standard Webhooks). Empty on a new channel: one is generated.",
        ),
        "config_headers": forms.CharField(
            label="Headers",
            required=False,
            widget=_lines(),
            help_text="One per line, Name: value. Shown to your team; put credentials below.",
        ),
        "secrets_headers": forms.CharField(
            label="Secret headers",
            required=False,
            widget=SecretTextarea(),
            help_text="One per line, e.g. Authorization: Bearer …. Stored encrypted.",
        ),
    }


KIND_FIELDS: dict[str, Callable[[], dict[str, forms.Field]]] = {
    ChannelKind.EMAIL: _email_fields,
    ChannelKind.SMS: _sms_fields,
    ChannelKind.SLACK: _slack_fields,
    ChannelKind.TEAMS: _teams_fields,
    ChannelKind.WEBHOOK: _webhook_fields,
}


def parse_headers(text: str) -> dict[str, str]:
    """``Name: value`` lines into a mapping; the service checks names and values."""
    headers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise ValidationError(f"Line {number}: write each header as Name: value.")
        headers[name.strip()] = value.strip()
    return headers


def format_headers(headers: Any) -> str:
    if not isinstance(headers, Mapping):
        return ""
    return "\n".join(f"{name}: {value}" for name, value in headers.items())


class ChannelForm(forms.Form):
    """Name plus the chosen kind's inputs. ``stored`` names the secrets the channel
    already has: those inputs become optional and say so."""

    name = forms.CharField(
        label="Name",
        max_length=200,
        help_text="How rules and the delivery log name this channel, e.g. “On-call e-mail”.",
    )

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        kind: str,
        channel: Channel | None = None,
        stored: Iterable[str] = (),
        initial: Mapping[str, Any] | None = None,
    ) -> None:
        if kind not in KIND_FIELDS:
            kind = ChannelKind.EMAIL
        self.kind = kind
        self.channel = channel
        self.stored = set(stored)
        start = dict(initial or {})
        if channel is not None and data is None:
            start = {**self.initial_for(channel), **start}
        super().__init__(data, initial=start)
        for name, field in KIND_FIELDS[kind]().items():
            key = name.removeprefix("secrets_")
            if name.startswith("secrets_") and key in self.stored:
                field.required = False
                field.widget.attrs["placeholder"] = SECRET_SET
            self.fields[name] = field

    # ------------------------------------------------------------ reading

    @staticmethod
    def initial_for(channel: Channel) -> dict[str, Any]:
        """What the form may show of a stored channel: its config, never its secrets."""
        config = channel.config or {}
        initial: dict[str, Any] = {"name": channel.name}
        for key, value in config.items():
            if key == "to" and isinstance(value, list):
                initial["config_to"] = ", ".join(str(v) for v in value)
            elif key == "headers":
                initial["config_headers"] = format_headers(value)
            elif key != "url_display":
                initial[f"config_{key}"] = value
        if channel.kind == ChannelKind.EMAIL and "host" not in config:
            initial["config_starttls"] = True
        return initial

    @property
    def type_rows(self) -> list[list[forms.BoundField]]:
        """The kind's inputs, short ones paired in rows."""
        names = [n for n in self.fields if n != "name"]
        pairs = {("config_host", "config_port"), ("secrets_username", "secrets_password")}
        pairs |= {("secrets_account_sid", "secrets_auth_token")}
        rows: list[list[forms.BoundField]] = []
        skip: set[str] = set()
        for i, name in enumerate(names):
            if name in skip:
                continue
            following = names[i + 1] if i + 1 < len(names) else ""
            if (name, following) in pairs:
                rows.append([self[name], self[following]])
                skip.add(following)
            else:
                rows.append([self[name]])
        return rows

    @property
    def secret_names(self) -> list[str]:
        return [n for n in self.fields if n.startswith("secrets_")]

    # ------------------------------------------------------------ cleaning

    def clean_config_headers(self) -> dict[str, str]:
        return parse_headers(self.cleaned_data.get("config_headers") or "")

    def clean_secrets_headers(self) -> dict[str, str]:
        return parse_headers(self.cleaned_data.get("secrets_headers") or "")

    def service_data(self) -> dict[str, Any]:
        """The service's input: every config key of the kind (an emptied input clears
        it), and only the secrets that were typed (empty keeps the stored one)."""
        config: dict[str, Any] = {}
        secrets: dict[str, Any] = {}
        for name, value in self.cleaned_data.items():
            if name.startswith("config_"):
                key = name.removeprefix("config_")
                config[key] = "" if value is None else value
            elif name.startswith("secrets_") and value not in (None, "", {}):
                secrets[name.removeprefix("secrets_")] = value
        data: dict[str, Any] = {"kind": self.kind, "name": self.cleaned_data["name"]}
        data["config"] = config
        data["secrets"] = secrets
        return data

    def apply_errors(self, exc: ValidationError) -> None:
        """Put a service's ``config.x`` / ``secrets.x`` / ``name`` errors on their
        inputs; anything without an input of its own goes on top of the form."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for key, messages in exc.message_dict.items():
            name = key.replace(".", "_", 1)
            if name in self.fields:
                self.add_error(name, messages)
            else:
                self.add_error(None, messages)


def kind_options(chosen: str) -> list[dict[str, Any]]:
    return [
        {
            "value": value,
            "label": info.label,
            "icon": info.icon,
            "help": info.help,
            "checked": value == chosen,
        }
        for value, info in KINDS.items()
    ]


# ---------------------------------------------------------------- delivery log

EVENT_CHOICES = [(k, v) for k, v in EVENT_TITLES.items() if k != "test"]


class DeliveryFilterForm(forms.Form):
    """Filters of the delivery log; an unknown value is ignored, never an error page."""

    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[("", "Any status"), *NotificationStatus.choices],
    )
    channel = forms.ChoiceField(label="Channel", required=False)
    event = forms.ChoiceField(
        label="Event", required=False, choices=[("", "Any event"), *EVENT_CHOICES]
    )

    def __init__(self, data: Mapping[str, Any] | None, *, channels: list[Channel]) -> None:
        super().__init__(data)
        cast(forms.ChoiceField, self.fields["channel"]).choices = [("", "Any channel")] + [
            (str(c.id), c.name) for c in channels
        ]

    def filters(self) -> dict[str, str]:
        """The valid filters only: a bad one is dropped, the others still apply."""
        self.is_valid()
        return {
            name: str(self.cleaned_data[name])
            for name in ("status", "channel", "event")
            if name not in self.errors and self.cleaned_data.get(name)
        }
