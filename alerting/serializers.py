"""/v1/alert-rules and /v1/maintenance-windows shapes.

A rule's ``monitors`` is ``"all"`` or a list of monitor ids; a rule may instead name
``tags`` (every monitor with one of them). Internally that is the rule's scope.
"""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alerting.models import AlertRule, MaintenanceWindow, MonitorScope, RuleEvent
from monitors.serializers import validate_time_zone
from pulse.api_input import StrictInput

ALL = "all"
MAX_IDS = 500

_MONITORS_SCHEMA = {
    "oneOf": [
        {"type": "string", "enum": [ALL]},
        {"type": "array", "items": {"type": "string", "format": "uuid"}, "maxItems": MAX_IDS},
    ],
    "description": '"all", or a list of monitor ids. Leave out to use tags.',
}


@extend_schema_field(_MONITORS_SCHEMA)
class MonitorsField(serializers.Field):
    """``"all"`` or a list of UUIDs."""

    default_error_messages = {
        "invalid": 'Enter "all" or a list of monitor ids.',
        "too_many": f"At most {MAX_IDS} monitors.",
    }

    def to_internal_value(self, data: Any) -> str | list[uuid.UUID]:
        if data == ALL:
            return ALL
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            self.fail("invalid")
        if len(data) > MAX_IDS:
            self.fail("too_many")
        try:
            return [uuid.UUID(item) for item in data]
        except ValueError:
            self.fail("invalid")

    def to_representation(self, value: Any) -> Any:
        return value


class AlertRuleSerializer(serializers.ModelSerializer):
    monitors = serializers.SerializerMethodField()
    channels = serializers.SerializerMethodField()
    scope = serializers.ChoiceField(choices=MonitorScope.choices)
    events = serializers.ListField(child=serializers.ChoiceField(choices=RuleEvent.choices))

    class Meta:
        model = AlertRule
        fields = [
            "id",
            "name",
            "enabled",
            "scope",
            "monitors",
            "tags",
            "events",
            "channels",
            "repeat_minutes",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(_MONITORS_SCHEMA)
    def get_monitors(self, rule: AlertRule) -> Any:
        if rule.scope == MonitorScope.ALL:
            return ALL
        if rule.scope == MonitorScope.TAG:
            return []
        return [str(link.monitor_id) for link in rule.alertrulemonitor_set.all()]

    @extend_schema_field(serializers.ListField(child=serializers.UUIDField()))
    def get_channels(self, rule: AlertRule) -> list[str]:
        return [str(link.channel_id) for link in rule.alertrulechannel_set.all()]


class AlertRuleWriteSerializer(StrictInput):
    echo_of = AlertRuleSerializer

    name = serializers.CharField(max_length=200)
    enabled = serializers.BooleanField(required=False)
    monitors = MonitorsField(required=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), max_length=50, required=False
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=RuleEvent.choices), max_length=10
    )
    channels = serializers.ListField(child=serializers.UUIDField(), max_length=MAX_IDS)
    repeat_minutes = serializers.IntegerField(
        min_value=1,
        max_value=10080,
        required=False,
        allow_null=True,
        help_text="Re-notify an unacknowledged down incident this often; null: never.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        monitors = attrs.get("monitors")
        if monitors is not None and attrs.get("tags"):
            raise serializers.ValidationError(
                {"tags": ['Give either monitors ("all" or ids) or tags, not both.']}
            )
        return attrs

    def to_service_data(self) -> dict[str, Any]:
        """The service's shape: scope plus ids/tags."""
        data = dict(self.validated_data)
        monitors = data.pop("monitors", None)
        if monitors == ALL:
            data.update(scope=MonitorScope.ALL, monitors=[], tags=[])
        elif monitors is not None:
            data.update(scope=MonitorScope.LIST, monitors=monitors, tags=[])
        elif data.get("tags"):
            data.update(scope=MonitorScope.TAG, monitors=[])
        elif not self.partial:
            data.update(scope=MonitorScope.ALL, monitors=[], tags=[])
        return data


class MaintenanceWindowSerializer(serializers.ModelSerializer):
    monitors = serializers.SerializerMethodField()

    class Meta:
        model = MaintenanceWindow
        fields = [
            "id",
            "name",
            "enabled",
            "all_monitors",
            "monitors",
            "starts_at",
            "ends_at",
            "cron",
            "duration_minutes",
            "timezone",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.UUIDField()))
    def get_monitors(self, window: MaintenanceWindow) -> list[str]:
        return [str(link.monitor_id) for link in window.maintenancewindowmonitor_set.all()]


class MaintenanceWindowWriteSerializer(StrictInput):
    echo_of = MaintenanceWindowSerializer

    name = serializers.CharField(max_length=200)
    enabled = serializers.BooleanField(required=False, default=True)
    all_monitors = serializers.BooleanField(required=False, default=False)
    monitors = serializers.ListField(
        child=serializers.UUIDField(), max_length=MAX_IDS, required=False
    )
    starts_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="One-off windows: the start."
    )
    ends_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="One-off windows: the end."
    )
    cron = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="Recurring windows: when each occurrence starts (five cron fields).",
    )
    duration_minutes = serializers.IntegerField(
        min_value=1, max_value=7 * 24 * 60, required=False, allow_null=True
    )
    timezone = serializers.CharField(
        max_length=64, required=False, default="UTC", validators=[validate_time_zone]
    )
