"""/v1/monitors shapes. Input serializers check types and bounds only; the rules
(per-type targets and settings, timeout below interval, …) live in the services,
whose field-level errors (``config.url``) reach the client unchanged."""

from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import available_timezones

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from monitors import limits
from monitors.models import ALERT_SETTINGS, Monitor, MonitorStatus, MonitorType, Outcome
from pulse.api_docs import EnumField
from pulse.api_input import StrictInput


def bounded_int(bound: limits.Bound, **kwargs: Any) -> serializers.IntegerField:
    """An integer field bounded as monitors.limits says (the form and the service
    read the same bound)."""
    return serializers.IntegerField(
        min_value=bound.whole_low, max_value=bound.whole_high, required=False, **kwargs
    )


def ratio() -> serializers.FloatField:
    """A share in limits.RATIO; an open low end is the service's to refuse (DRF has
    no exclusive minimum), with the same field-level error."""
    return serializers.FloatField(
        min_value=limits.RATIO.low,
        max_value=limits.RATIO.high,
        required=False,
        help_text="Above 0, at most 1." if limits.RATIO.above else "",
    )


@cache
def time_zones() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


def validate_time_zone(value: Any) -> None:
    # ZoneInfo("America") raises IsADirectoryError, which the services do not expect:
    # only names from the tz database get that far.
    if not isinstance(value, str) or value not in time_zones():
        raise serializers.ValidationError("Unknown time zone.")


class MonitorSerializer(serializers.ModelSerializer):
    # Changed by the checks, not by clients: echoed back with any value (a copy from
    # an earlier GET is stale by the next check), see pulse.api_input.
    server_state = (
        "status",
        "flapping",
        "last_check_at",
        "last_outcome",
        "last_latency_ms",
        "last_status_code",
        "last_error",
        "updated_at",
    )
    status = EnumField("MonitorStatus", MonitorStatus.choices)
    heartbeat_url = serializers.SerializerMethodField()
    last_outcome = serializers.ChoiceField(
        choices=[*Outcome.values, ""], help_text="ok, slow or fail; empty before the first check."
    )

    class Meta:
        model = Monitor
        fields = [
            "id",
            "name",
            "type",
            "target",
            "interval_seconds",
            "timeout_seconds",
            "config",
            "latency_degraded_ms",
            "tags",
            "regions",
            "status",
            "paused",
            "flapping",
            "fail_threshold",
            "recover_threshold",
            "window",
            "degraded_ratio",
            "down_ratio",
            "flap_high",
            "flap_low",
            "last_check_at",
            "last_outcome",
            "last_latency_ms",
            "last_status_code",
            "last_error",
            "heartbeat_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(
        serializers.URLField(allow_null=True, help_text="Push monitors: where to send pings.")
    )
    def get_heartbeat_url(self, monitor: Monitor) -> str | None:
        if monitor.type != MonitorType.PUSH:
            return None
        path = reverse("ingest_heartbeat", kwargs={"token": monitor.heartbeat_token})
        return f"{settings.PUBLIC_URL}{path}"


class _MonitorFields(StrictInput):
    echo_of = MonitorSerializer

    name = serializers.CharField(max_length=limits.NAME)
    type = serializers.ChoiceField(choices=MonitorType.choices)
    target = serializers.CharField(
        max_length=limits.TARGET,
        required=False,
        allow_blank=True,
        help_text="URL (http), host:port (tcp), host (icmp), record name (dns); "
        "empty for push and metric.",
    )
    interval_seconds = bounded_int(limits.INTERVAL_SECONDS)
    timeout_seconds = bounded_int(limits.TIMEOUT_SECONDS)
    config = serializers.DictField(
        required=False, help_text="Type-specific settings and assertions."
    )
    latency_degraded_ms = bounded_int(limits.LATENCY_DEGRADED_MS, allow_null=True)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=limits.TAG), max_length=limits.TAGS, required=False
    )
    # The flap-detecting state machine's settings (SPEC §6).
    fail_threshold = bounded_int(
        limits.ALERT_INTS["fail_threshold"], help_text="Consecutive failures to go down."
    )
    recover_threshold = bounded_int(
        limits.ALERT_INTS["recover_threshold"], help_text="Consecutive successes to recover."
    )
    window = bounded_int(limits.ALERT_INTS["window"], help_text="Results the ratios look at.")
    degraded_ratio = ratio()
    down_ratio = ratio()
    flap_high = ratio()
    flap_low = ratio()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        tz = (attrs.get("config") or {}).get("tz")
        if tz not in (None, ""):
            try:
                validate_time_zone(tz)
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"config.tz": exc.detail}) from exc
        return attrs


class MonitorCreateSerializer(_MonitorFields):
    paused = serializers.BooleanField(required=False, default=False)


class MonitorUpdateSerializer(_MonitorFields):
    """PUT replaces every editable field (omitted ones return to their defaults);
    PATCH changes only those given. The type of a monitor never changes."""

    DEFAULTS: dict[str, Any] = {
        "target": "",
        "interval_seconds": 60,
        "timeout_seconds": 10,
        "config": {},
        "latency_degraded_ms": None,
        "tags": [],
        # The service fills the state machine's defaults for None.
        **dict.fromkeys(ALERT_SETTINGS),
    }

    def to_service_data(self) -> dict[str, Any]:
        data = dict(self.validated_data)
        if not self.partial:
            data = {**self.DEFAULTS, **data}
        return data


class MonitorFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=MonitorStatus.choices, required=False)
    type = serializers.ChoiceField(choices=MonitorType.choices, required=False)
    tag = serializers.CharField(max_length=50, required=False)
    search = serializers.CharField(max_length=200, required=False)


class CheckRangeSerializer(serializers.Serializer):
    since = serializers.DateTimeField(
        required=False, help_text="Start of the range (default: 24 hours ago)."
    )
    until = serializers.DateTimeField(required=False, help_text="End of the range (default: now).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = attrs.get("since"), attrs.get("until")
        if since and until and until < since:
            raise serializers.ValidationError({"until": ["The end must not be before the start."]})
        return attrs


class CheckResultSerializer(serializers.Serializer):
    ts = serializers.DateTimeField()
    due_at = serializers.DateTimeField()
    region = serializers.CharField()
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    latency_ms = serializers.FloatField(allow_null=True)
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    details = serializers.DictField()


class UptimeWindowSerializer(serializers.Serializer):
    percent = serializers.FloatField(
        allow_null=True, help_text="Null when there were no checks: unknown, not 100 %."
    )
    checks = serializers.IntegerField()
    failures = serializers.IntegerField()


class UptimeSerializer(serializers.Serializer):
    monitor = serializers.UUIDField()
    windows = serializers.DictField(
        child=UptimeWindowSerializer(), help_text="Keyed by window: 24h, 7d and 30d."
    )
