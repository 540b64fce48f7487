"""/v1/channels and /v1/notifications shapes.

Channel secrets are write-only. A client sends them inside ``config`` (a webhook's
``url`` and ``secret``, Slack's and Teams' ``url``, SMTP ``username``/``password``,
Twilio ``account_sid``/``auth_token``) or in ``secrets`` (also the webhook's secret
``headers``); answers carry the config without them and ``secrets_set``, the names of
the secrets stored.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from notifications.channels import CHANNEL_TYPES
from notifications.models import Channel, ChannelKind, Notification, NotificationStatus
from notifications.services import channel_public_config
from pulse.api_docs import EnumField
from pulse.api_input import StrictInput

# Secret fields a client may put in ``config``. A webhook's ``headers`` exists in both
# (plain headers in config, credential headers in secrets), so it stays where it is sent.
_BOTH_PLACES = frozenset({"headers"})


def config_secret_keys(kind: str) -> frozenset[str]:
    channel_type = CHANNEL_TYPES.get(kind)
    secret_fields = channel_type.secret_fields if channel_type else ()
    return frozenset(secret_fields) - _BOTH_PLACES


class ChannelSerializer(serializers.ModelSerializer):
    kind = EnumField("ChannelKind", ChannelKind.choices)
    config = serializers.SerializerMethodField()
    secrets_set = serializers.SerializerMethodField()

    class Meta:
        model = Channel
        fields = [
            "id",
            "name",
            "kind",
            "config",
            "secrets_set",
            "enabled",
            "disabled_reason",
            "created_at",
        ]
        read_only_fields = fields

    def get_config(self, channel: Channel) -> dict[str, Any]:
        """The settings without any secret (a URL with a key shows as url_display)."""
        return dict(channel.config)

    def get_secrets_set(self, channel: Channel) -> list[str]:
        """Names of the secrets stored (their values are never returned)."""
        return list(channel_public_config(channel).get("secrets_set", []))


class ChannelWriteSerializer(StrictInput):
    echo_of = ChannelSerializer

    name = serializers.CharField(max_length=200)
    kind = EnumField("ChannelKind", ChannelKind.choices)
    config = serializers.DictField(
        required=False,
        help_text="Settings for the kind; secret ones (url, secret, password, auth_token…) "
        "are stored encrypted and never returned.",
    )
    secrets = serializers.DictField(
        required=False, write_only=True, help_text="Secrets may also be sent here."
    )
    enabled = serializers.BooleanField(required=False)

    def to_service_data(self, kind: str) -> tuple[dict[str, Any], set[str]]:
        """(the service's data, the names sent in the explicit ``secrets`` object)."""
        data = dict(self.validated_data)
        config = dict(data.get("config") or {})
        secrets = dict(data.get("secrets") or {})
        explicit = set(secrets)
        for key in config_secret_keys(kind) & set(config):
            value = config.pop(key)
            secrets.setdefault(key, value)
        if "config" in data:
            data["config"] = config
        if secrets:
            data["secrets"] = secrets
        return data, explicit


def api_errors(exc: DjangoValidationError, kind: str, explicit: set[str]) -> DjangoValidationError:
    """Name secret fields where the client is meant to send them (``config.url``),
    unless it sent them in the ``secrets`` object."""
    if not hasattr(exc, "error_dict"):
        return exc
    movable = config_secret_keys(kind)
    errors: dict[str, list[str]] = {}
    for key, messages in exc.message_dict.items():
        name = key.removeprefix("secrets.")
        if key != name and name in movable and name not in explicit:
            key = f"config.{name}"
        errors.setdefault(key, []).extend(messages)
    return DjangoValidationError(errors)


class ChannelTestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    latency_ms = serializers.FloatField(allow_null=True)


class NotificationSerializer(serializers.ModelSerializer):
    status = EnumField("NotificationStatus", NotificationStatus.choices)
    channel = serializers.UUIDField(source="channel_id")
    rule = serializers.UUIDField(source="rule_id", allow_null=True)
    incident = serializers.UUIDField(source="incident_id", allow_null=True)
    monitor = serializers.UUIDField(source="monitor_id", allow_null=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "status",
            "attempts",
            "idempotency_key",
            "event",
            "channel",
            "rule",
            "incident",
            "monitor",
            "next_attempt_at",
            "last_error",
            "last_status_code",
            "created_at",
            "sent_at",
        ]
        read_only_fields = fields


class NotificationFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=NotificationStatus.choices, required=False)
    channel = serializers.UUIDField(required=False)
    incident = serializers.UUIDField(required=False)
