"""The monitor create/edit form. It only coerces what the browser sends (numbers,
check boxes, "Name: value" lines) into the shape ``monitors.services`` takes; every
rule about what is valid lives in ``monitors.config`` and the services, whose
field-keyed errors (``target``, ``config.<key>``, …) land back on the right inputs
through :meth:`MonitorForm.apply_errors`.

Config inputs are named ``config_<key>`` so a service error on ``config.<key>``
maps to exactly one input.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from alerting.machine import Settings
from monitors import limits
from monitors.config import (
    DNS_RECORD_TYPES,
    HTTP_METHODS,
    METRIC_OPS,
    URL_MESSAGE,
    validate_monitor_input,
)
from monitors.models import ALERT_SETTINGS, Monitor, MonitorType

TYPE_HELP = {
    "http": "A website or API endpoint, with status, keyword and JSON assertions.",
    "tcp": "A port that should accept connections, e.g. a database or SMTP server.",
    "icmp": "A host that should answer ping, with packet loss and round-trip time.",
    "dns": "A DNS record that should resolve, optionally to the answers you expect.",
    "push": "A cron job or worker that pings Pulse; silence means trouble.",
    "metric": "A threshold on OS metrics your agent pushes, like cpu.usage > 90.",
}
TYPE_ICON = {
    "http": "globe",
    "tcp": "server",
    "icmp": "activity",
    "dns": "layers",
    "push": "clock",
    "metric": "chart",
}
TARGET_LABEL = {"http": "URL", "tcp": "Host and port", "icmp": "Host", "dns": "Record name"}
TARGET_HELP = {
    "http": "The full address, e.g. https://example.com/health",
    "tcp": "host:port, e.g. db.example.com:5432 or [2001:db8::1]:443",
    "icmp": "A host name or IP address",
    "dns": "The name to look up, e.g. example.com",
}
TARGET_PLACEHOLDER = {
    "http": "https://example.com/health",
    "tcp": "db.example.com:5432",
    "icmp": "example.com",
    "dns": "example.com",
}
JSON_OP_CHOICES = [
    ("eq", "equals"),
    ("ne", "does not equal"),
    ("lt", "is less than"),
    ("le", "is at most"),
    ("gt", "is greater than"),
    ("ge", "is at least"),
    ("contains", "contains"),
    ("exists", "exists"),
]
METRIC_OP_LABELS = {
    "gt": "above (>)",
    "ge": "at or above (≥)",
    "lt": "below (<)",
    "le": "at or below (≤)",
}

# The inputs of each type, row by row in display order (the common fields are
# always shown).
TYPE_ROWS: dict[str, tuple[tuple[str, ...], ...]] = {
    "http": (
        ("target",),
        ("config_method", "config_accepted_status"),
        ("config_headers",),
        ("config_body",),
        ("config_keyword", "config_keyword_absent"),
        ("config_json_path", "config_json_op", "config_json_expected"),
        ("config_max_response_ms", "config_tls_expiry_days"),
        ("config_follow_redirects", "config_verify_tls"),
    ),
    "tcp": (("target",), ("config_send", "config_expect")),
    "icmp": (("target",), ("config_count", "config_max_loss_pct")),
    "dns": (
        ("target", "config_record_type"),
        ("config_expected",),
        ("config_resolver", "config_port"),
    ),
    "push": (("config_grace_seconds",), ("config_cron", "config_tz")),
    "metric": (
        ("config_host", "config_metric"),
        ("config_op", "config_threshold", "config_for_seconds"),
    ),
}
TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    kind: tuple(name for row in rows for name in row) for kind, rows in TYPE_ROWS.items()
}
# Inputs the chosen type cannot do without, with the message the service would give.
REQUIRED: dict[str, dict[str, str]] = {
    "http": {"target": URL_MESSAGE, "config_method": "", "config_json_op": ""},
    "tcp": {"target": "Enter host:port, e.g. db.example.com:5432"},
    "icmp": {"target": "Enter a host name or IP address"},
    "dns": {"target": "Enter a DNS name", "config_record_type": ""},
    "push": {},
    "metric": {
        "config_host": "Enter the host name the agent reports",
        "config_metric": "Enter a metric name such as cpu.usage",
        "config_op": "",
        "config_threshold": "Enter a number",
    },
}
# Shown as text areas, one item per line; sent to the service as lists / mappings.
LINE_LIST_KEYS = {"expected"}
PERCENT_SETTINGS = ("degraded_ratio", "down_ratio", "flap_high", "flap_low")


def _textarea(rows: int = 3, **attrs: str) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": str(rows), "spellcheck": "false", **attrs})


def _number(**attrs: str) -> forms.NumberInput:
    return forms.NumberInput(attrs={"inputmode": "numeric", **attrs})


def _int(
    bound: limits.Bound,
    label: str,
    help_text: str = "",
    initial: int | None = None,
    *,
    required: bool = True,
    scale: int = 1,
    **attrs: str,
) -> forms.IntegerField:
    """A whole-number input bounded by ``bound`` from monitors.limits (``scale``
    100: a ratio shown as percent), in the browser and on the server."""
    if scale == 1:
        low, high = bound.whole_low, bound.whole_high
    else:
        low = int(bound.low * scale) + (1 if bound.above else 0)
        high = int(bound.high * scale)
    return forms.IntegerField(
        label=label,
        required=required,
        help_text=help_text,
        initial=initial,
        min_value=low,
        max_value=high,
        error_messages=dict.fromkeys(
            ("min_value", "max_value"), f"Enter a whole number between {low} and {high}."
        ),
        widget=_number(min=str(low), max=str(high), step="1", **attrs),
    )


def _opt_int(
    key: str, label: str, help_text: str = "", initial: int | None = None
) -> forms.IntegerField:
    """An optional ``config`` setting, bounded by limits.CONFIG_INTS[key]."""
    return _int(limits.CONFIG_INTS[key], label, help_text, initial, required=False)


def _opt_text(
    label: str,
    help_text: str = "",
    *,
    max_length: int,
    strip: bool = True,
    initial: str = "",
    **attrs: str,
) -> forms.CharField:
    """Optional text; ``strip=False`` where spaces are part of what is matched."""
    return forms.CharField(
        label=label,
        required=False,
        strip=strip,
        max_length=max_length,
        help_text=help_text,
        initial=initial or None,
        widget=forms.TextInput(attrs={"spellcheck": "false", **attrs}),
    )


def parse_headers(text: str) -> dict[str, str]:
    """``Name: value`` per line → mapping; blank lines are skipped."""
    headers: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise ValidationError(f"Line {number}: write each header as Name: value")
        headers[name.strip()] = value.strip()
    return headers


def format_headers(headers: dict[str, str]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in headers.items())


class MonitorForm(forms.Form):
    # ----------------------------------------------------------------- common
    type = forms.ChoiceField(
        label="Monitor type", choices=MonitorType.choices, widget=forms.RadioSelect
    )
    name = forms.CharField(
        label="Name",
        max_length=limits.NAME,
        error_messages={"required": "Give the monitor a name."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "Checkout API"}),
    )
    target = forms.CharField(
        label="Target", required=False, max_length=limits.TARGET, widget=forms.TextInput()
    )
    interval_seconds = _int(
        limits.INTERVAL_SECONDS,
        "Check every (seconds)",
        f"From {limits.INTERVAL_SECONDS.whole_low} seconds to 24 hours "
        f"({limits.INTERVAL_SECONDS.whole_high}).",
        60,
    )
    timeout_seconds = _int(
        limits.TIMEOUT_SECONDS,
        "Timeout (seconds)",
        f"{limits.TIMEOUT_SECONDS.whole_low} to {limits.TIMEOUT_SECONDS.whole_high}, "
        "and shorter than the interval.",
        10,
    )
    latency_degraded_ms = _int(
        limits.LATENCY_DEGRADED_MS,
        "Degraded above (ms)",
        "A response slower than this counts as degraded. Empty: no limit.",
        required=False,
    )
    tags = forms.CharField(
        label="Tags",
        required=False,
        max_length=limits.TAGS_TEXT,
        help_text="Comma-separated, e.g. production, api. Alert rules can match tags.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    # ------------------------------------------------- alerting ("Advanced")
    fail_threshold = _int(
        limits.ALERT_INTS["fail_threshold"], "Down after failures in a row", "", 3
    )
    recover_threshold = _int(
        limits.ALERT_INTS["recover_threshold"], "Up after successes in a row", "", 2
    )
    window = _int(
        limits.ALERT_INTS["window"],
        "Window (checks)",
        "How many recent checks the ratios and flap detection look at.",
        20,
    )
    degraded_ratio = _int(limits.RATIO, "Degraded at failure share (%)", "", 20, scale=100)
    down_ratio = _int(limits.RATIO, "Down at failure share (%)", "", 50, scale=100)
    flap_high = _int(
        limits.RATIO,
        "Flapping starts above (%)",
        "State changes in the window, weighted towards recent checks.",
        30,
        scale=100,
    )
    flap_low = _int(limits.RATIO, "Flapping stops below (%)", "", 25, scale=100)

    # ----------------------------------------------------------------- http
    config_method = forms.ChoiceField(
        label="Method", choices=[(m, m) for m in HTTP_METHODS], initial="GET", required=False
    )
    config_accepted_status = forms.CharField(
        label="Accepted status codes",
        initial="200-299",
        required=False,
        max_length=limits.KEYWORD,
        help_text="Codes or ranges, comma-separated: 200-299, 301",
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
    )
    config_headers = forms.CharField(
        label="Request headers",
        required=False,
        max_length=limits.HEADERS * (limits.HEADER_VALUE + 100),
        help_text="One per line, as Name: value",
        widget=_textarea(3, placeholder="Accept: application/json"),
    )
    config_body = forms.CharField(
        label="Request body",
        required=False,
        strip=False,
        max_length=limits.BODY,
        widget=_textarea(3),
    )
    config_keyword = _opt_text(
        "Response must contain",
        "Case-sensitive text to look for.",
        strip=False,
        max_length=limits.KEYWORD,
    )
    config_keyword_absent = _opt_text(
        "Response must not contain",
        "Fails when this text appears, e.g. “Maintenance”.",
        strip=False,
        max_length=limits.KEYWORD,
    )
    config_json_path = _opt_text(
        "JSON path",
        "Check one value of a JSON response, e.g. data.status",
        max_length=limits.JSON_PATH,
        placeholder="$.status",
    )
    config_json_op = forms.ChoiceField(
        label="Comparison", choices=JSON_OP_CHOICES, initial="eq", required=False
    )
    config_json_expected = _opt_text("Expected value", max_length=limits.KEYWORD)
    config_max_response_ms = _opt_int(
        "max_response_ms", "Fail slower than (ms)", "A hard limit: slower responses fail."
    )
    config_tls_expiry_days = _opt_int(
        "tls_expiry_days",
        "Warn before certificate expiry (days)",
        "Degraded when the TLS certificate expires sooner. 0 turns it off.",
        initial=14,
    )
    config_follow_redirects = forms.BooleanField(
        label="Follow redirects", required=False, initial=True
    )
    config_verify_tls = forms.BooleanField(
        label="Verify the TLS certificate", required=False, initial=True
    )

    # ------------------------------------------------------------------ tcp
    config_send = _opt_text(
        "Send after connecting",
        "Optional text to write first.",
        strip=False,
        max_length=limits.TCP_PAYLOAD,
    )
    config_expect = _opt_text(
        "Expect in the reply",
        "Optional text the server must answer.",
        strip=False,
        max_length=limits.TCP_PAYLOAD,
    )

    # ----------------------------------------------------------------- icmp
    config_count = _opt_int("count", "Packets per check", "1 to 10.", initial=3)
    config_max_loss_pct = _opt_int(
        "max_loss_pct",
        "Allowed packet loss (%)",
        "More loss than this fails the check.",
        initial=0,
    )

    # ------------------------------------------------------------------ dns
    config_record_type = forms.ChoiceField(
        label="Record type", choices=[(t, t) for t in DNS_RECORD_TYPES], initial="A", required=False
    )
    config_expected = forms.CharField(
        label="Expected answers",
        required=False,
        max_length=limits.DNS_EXPECTED * (limits.KEYWORD + 1),
        help_text="One per line. Empty: any answer passes.",
        widget=_textarea(3, placeholder="93.184.216.34"),
    )
    config_resolver = _opt_text(
        "Resolver",
        "An IP address. Empty: the system resolver.",
        max_length=limits.HOST,
        placeholder="1.1.1.1",
    )
    config_port = _opt_int("port", "Resolver port", initial=53)

    # ----------------------------------------------------------------- push
    config_grace_seconds = _opt_int(
        "grace_seconds",
        "Grace period (seconds)",
        "How late a ping may be before the check fails.",
        initial=60,
    )
    config_cron = _opt_text(
        "Cron schedule",
        "Optional, e.g. 0 3 * * * for a nightly job. Empty: every interval.",
        max_length=limits.CRON,
        placeholder="0 3 * * *",
    )
    config_tz = _opt_text(
        "Time zone of the schedule",
        "e.g. Europe/Berlin",
        max_length=limits.TIME_ZONE,
        initial="UTC",
    )

    # --------------------------------------------------------------- metric
    config_host = _opt_text("Host", "The host name your agent reports.", max_length=limits.HOST)
    config_metric = _opt_text(
        "Metric", "e.g. cpu.usage, memory.used_pct, disk./.used_pct", max_length=limits.METRIC
    )
    config_op = forms.ChoiceField(
        label="Fails when the value is",
        choices=[(op, METRIC_OP_LABELS[op]) for op in METRIC_OPS],
        initial="gt",
        required=False,
    )
    config_threshold = forms.FloatField(
        label="Threshold", required=False, widget=forms.NumberInput(attrs={"step": "any"})
    )
    config_for_seconds = _opt_int(
        "for_seconds",
        "For at least (seconds)",
        "0 fails on the first sample over the threshold.",
        initial=0,
    )

    def __init__(self, *args: Any, monitor: Monitor | None = None, **kwargs: Any) -> None:
        if monitor is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(monitor)
        super().__init__(*args, **kwargs)
        self.monitor = monitor
        if monitor is not None:
            # A monitor's type never changes (the service refuses it): show, don't ask.
            self.fields["type"].disabled = True
        for name in self.fields:
            if name.startswith("config_") or name == "target":
                self.fields[name].widget.attrs.setdefault("autocomplete", "off")
        # Before any BoundField exists: they copy the label when first made.
        kind = self.chosen_type
        for name, message in REQUIRED[kind].items():
            field = self.fields[name]
            field.required = True
            if message:
                field.error_messages["required"] = message
        if kind in TARGET_LABEL:
            target = self.fields["target"]
            target.label = TARGET_LABEL[kind]
            target.help_text = TARGET_HELP[kind]
            target.widget.attrs["placeholder"] = TARGET_PLACEHOLDER[kind]
            if kind == "http":
                target.widget.input_type = "url"

    # ------------------------------------------------------------- rendering

    @property
    def chosen_type(self) -> str:
        if self.monitor is not None:
            return str(self.monitor.type)
        value = self.data.get("type") if self.is_bound else None
        value = value or self.initial.get("type") or self["type"].initial
        return str(value) if value in TYPE_FIELDS else MonitorType.HTTP.value

    def type_rows(self) -> list[dict[str, Any]]:
        """The chosen type's inputs as rows: {"fields": [...], "checks": bool}."""
        kind = self.chosen_type
        rows = []
        for names in TYPE_ROWS[kind]:
            fields = [self[name] for name in names]
            checks = all(isinstance(f.field, forms.BooleanField) for f in fields)
            rows.append({"fields": fields, "checks": checks})
        return rows

    def type_options(self) -> list[dict[str, Any]]:
        chosen = self.chosen_type
        return [
            {
                "value": value,
                "label": label,
                "help": TYPE_HELP[value],
                "icon": TYPE_ICON[value],
                "checked": value == chosen,
            }
            for value, label in MonitorType.choices
        ]

    @property
    def alert_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ALERT_SETTINGS]

    @property
    def alert_errors(self) -> bool:
        return any(self.errors.get(name) for name in ALERT_SETTINGS)

    # ------------------------------------------------------------ validation

    def clean_tags(self) -> list[str]:
        text = self.cleaned_data.get("tags") or ""
        return [tag.strip() for tag in text.replace("\n", ",").split(",") if tag.strip()]

    def clean_config_headers(self) -> dict[str, str]:
        return parse_headers(self.cleaned_data.get("config_headers") or "")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        out = self.service_data()
        alert: dict[str, Any] = {key: out[key] for key in ALERT_SETTINGS}
        if None not in alert.values():
            try:
                Settings(**alert)
            except ValueError:
                if alert["flap_low"] > alert["flap_high"]:
                    self.add_error("flap_low", "Flapping must stop at or below where it starts.")
                else:
                    self.add_error(None, "These alert settings do not fit together.")
        # The type rules (monitors.config, no writes) run now too, so one submission
        # shows every problem, not the form's first and the service's on the next try.
        try:
            validate_monitor_input(
                type=out["type"],
                target=out["target"],
                interval_seconds=out["interval_seconds"],
                timeout_seconds=out["timeout_seconds"],
                config=out["config"],
            )
        except ValidationError as exc:
            self.apply_errors(exc, only_new=True)
        return data

    def service_data(self) -> dict[str, Any]:
        """The cleaned input as ``monitor_create`` / ``monitor_update`` take it."""
        data = self.cleaned_data
        kind = self.chosen_type
        config: dict[str, Any] = {}
        for name in TYPE_FIELDS[kind]:
            if not name.startswith("config_"):
                continue
            key = name.removeprefix("config_")
            value = data.get(name)
            if key in LINE_LIST_KEYS:
                value = [line.strip() for line in (value or "").splitlines() if line.strip()]
            elif key == "accepted_status":
                value = [part.strip() for part in (value or "").split(",") if part.strip()]
            elif value is None or (
                value == "" and key in {"method", "json_op", "record_type", "op"}
            ):
                # Left empty: the service fills in its default.
                continue
            config[key] = value
        out: dict[str, Any] = {
            "name": data.get("name", ""),
            "type": kind,
            "target": data.get("target") or "" if "target" in TYPE_FIELDS[kind] else "",
            "interval_seconds": data.get("interval_seconds"),
            "timeout_seconds": data.get("timeout_seconds"),
            "latency_degraded_ms": data.get("latency_degraded_ms"),
            "tags": data.get("tags") or [],
            "config": config,
        }
        for key in ALERT_SETTINGS:
            value = data.get(key)
            out[key] = value / 100 if key in PERCENT_SETTINGS and value is not None else value
        return out

    def apply_errors(self, exc: ValidationError, *, only_new: bool = False) -> None:
        """Put a service's errors on the inputs they are about: ``config.<key>`` on
        ``config_<key>``, anything without an input of its own on the form. With
        ``only_new``, inputs that already show an error keep just that one."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for key, messages in exc.message_dict.items():
            name = "config_" + key.removeprefix("config.") if key.startswith("config.") else key
            if (
                name in self.fields
                and (not name.startswith("config_") or name in TYPE_FIELDS[self.chosen_type])
                and name != "type"
            ):
                if not (only_new and name in self.errors):
                    self.add_error(name, messages)
            else:
                self.add_error(None, messages)

    @staticmethod
    def initial_for(monitor: Monitor) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "type": monitor.type,
            "name": monitor.name,
            "target": monitor.target,
            "interval_seconds": monitor.interval_seconds,
            "timeout_seconds": monitor.timeout_seconds,
            "latency_degraded_ms": monitor.latency_degraded_ms,
            "tags": ", ".join(monitor.tags),
        }
        for key in ALERT_SETTINGS:
            value = getattr(monitor, key)
            initial[key] = round(value * 100) if key in PERCENT_SETTINGS else value
        for key, value in (monitor.config or {}).items():
            name = f"config_{key}"
            if key == "headers" and isinstance(value, dict):
                value = format_headers(value)
            elif key in LINE_LIST_KEYS and isinstance(value, list):
                value = "\n".join(str(v) for v in value)
            elif key == "accepted_status" and isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            elif value is None:
                value = ""
            initial[name] = value
        return initial
