"""The channel plug-in interface (one module per kind, as healthchecks does with its
transports). The delivery engine (notifications.delivery) calls ``send`` outside any
transaction and turns the returned ``Delivery`` into sent / retry / dead."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Message:
    """What to send: the outbox row's payload, frozen when the event happened."""

    notification_id: str
    idempotency_key: str  # also the webhook-id: the same on every retry
    event: str  # down, degraded, recovered, flapping_started, flapping_stopped, reminder, test
    payload: Mapping[str, Any]
    attempt: int = 1


@dataclass(frozen=True)
class Delivery:
    """The outcome of one attempt."""

    ok: bool
    status_code: int | None = None
    error: str = ""
    permanent: bool = False  # never retry: dead now (4xx other than 408/429, bad config)
    disable_channel: bool = False  # 410 Gone: the endpoint is gone for good
    retry_after: float | None = None  # seconds the receiver asked us to wait (429)
    external_id: str = ""  # provider id, e.g. Twilio's message SID
    latency_ms: float | None = None


@dataclass(frozen=True)
class SendContext:
    """Per-run settings the engine passes to every send."""

    allow_cidrs: Sequence[str] = ()
    production: bool = True
    timeout: float = 10.0
    public_url: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


class ChannelType:
    """One notification kind. Subclasses set ``kind`` and ``secret_fields`` and implement
    ``validate`` and ``send``; they register themselves in ``notifications.channels``."""

    kind: ClassVar[str]
    label: ClassVar[str]
    # Keys of the config that are secret: stored encrypted, never shown, never logged.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def validate(
        self, config: Mapping[str, Any], secrets: Mapping[str, Any], *, has_secrets: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Normalize (config, secrets) or raise ValidationError with keys like
        ``config.url`` / ``secrets.auth_token``. ``has_secrets``: an update may leave
        secrets out to keep the stored ones."""
        raise NotImplementedError

    async def send(
        self,
        message: Message,
        config: Mapping[str, Any],
        secrets: Mapping[str, Any],
        ctx: SendContext,
    ) -> Delivery:
        raise NotImplementedError
