from __future__ import annotations

from django.db import models
from django.utils import timezone

from pulse.db.models import AllOrgsManager, TenantManager, TenantModel


class ChannelKind(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS (Twilio)"
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"
    WEBHOOK = "webhook", "Webhook"


class Channel(TenantModel):
    kind = models.CharField(max_length=10, choices=ChannelKind.choices)
    name = models.CharField(max_length=200)
    config = models.JSONField(default=dict, blank=True)  # non-secret settings only
    # AES-256-GCM, key id inside, row id as associated data (pulse.crypto).
    secrets = models.BinaryField(null=True, blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager["Channel"]()
    all_orgs = AllOrgsManager["Channel"]()

    class Meta:
        db_table = "notification_channels"

    def __str__(self) -> str:
        return self.name


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (will retry)"
    DEAD = "dead", "Dead"


class Notification(TenantModel):
    """The outbox: one row per (event, rule, channel), written in the transaction that
    made the event; delivered later, retried, never dropped (SPEC §7)."""

    idempotency_key = models.CharField(max_length=64, unique=True)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    rule = models.ForeignKey(
        "alerting.AlertRule", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
    )
    monitor = models.ForeignKey(
        "monitors.Monitor", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    event_id = models.UUIDField()  # the incident event or monitor transition notified about
    event = models.CharField(max_length=20)
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=8, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_status_code = models.IntegerField(null=True, blank=True)
    external_id = models.CharField(max_length=100, blank=True)  # e.g. Twilio message SID
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager["Notification"]()
    all_orgs = AllOrgsManager["Notification"]()

    class Meta:
        db_table = "notifications"
        indexes = [
            models.Index(fields=["org", "status", "-created_at"], name="notifications_org_status"),
            models.Index(
                fields=["next_attempt_at"],
                name="notifications_due",
                condition=models.Q(status__in=["pending", "failed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} via {self.channel_id} ({self.status})"


class WebhookEvent(TenantModel):
    """Inbound provider callbacks (Twilio delivery status), stored once each:
    UNIQUE (provider, external_id) makes a repeated callback a no-op."""

    provider = models.CharField(max_length=30)
    external_id = models.CharField(max_length=200)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager["WebhookEvent"]()
    all_orgs = AllOrgsManager["WebhookEvent"]()

    class Meta:
        db_table = "webhook_events"
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "external_id"], name="webhook_events_provider_external_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.external_id}"
