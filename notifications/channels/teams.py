"""Microsoft Teams through a Power Automate workflow ("Post to a channel when a webhook
request is received"). Its URL is signed (``sig=``), so it is a secret. The body is a
message with one Adaptive Card 1.4 attachment, which is what the workflow template
expects (Office 365 connectors, with their MessageCard format, are retired)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from notifications.channels import FieldErrors, Summary, summarize, truncate
from notifications.channels.base import ChannelType, Delivery, Message, SendContext
from notifications.channels.http import encode_json, post_json, validate_secret_url
from notifications.secrets import secret_strings

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
# Adaptive Card semantic colour names (the host app picks the real colours).
_EMPHASIS = {
    "down": "Attention",
    "degraded": "Warning",
    "flapping_started": "Warning",
    "reminder": "Attention",
    "recovered": "Good",
    "flapping_stopped": "Good",
}


def adaptive_card(summary: Summary) -> dict[str, Any]:
    facts = [
        ("Monitor", summary.monitor),
        ("Status", summary.status),
        ("Target", summary.target),
        ("Error", summary.error),
        ("Incident", summary.incident_title),
        ("Organization", summary.org),
        ("When", summary.occurred_at),
    ]
    if summary.is_test:
        facts = [("Organization", summary.org), ("Status", "This is a test: the channel works.")]
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": truncate(summary.headline, 200),
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
            "color": _EMPHASIS.get(summary.event, "Default"),
        },
        {
            "type": "FactSet",
            "facts": [
                {"title": title, "value": truncate(value, 1000)} for title, value in facts if value
            ],
        },
    ]
    card: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if summary.link.startswith(("https://", "http://")):
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": summary.link_label, "url": summary.link}
        ]
    return card


def teams_message(summary: Summary) -> dict[str, Any]:
    return {
        "type": "message",
        "summary": truncate(summary.headline, 200),
        "attachments": [
            {
                "contentType": CARD_CONTENT_TYPE,
                "contentUrl": None,
                "content": adaptive_card(summary),
            }
        ],
    }


class TeamsChannel(ChannelType):
    kind = "teams"
    label = "Microsoft Teams"
    secret_fields = ("url",)

    def validate(
        self, config: Mapping[str, Any], secrets: Mapping[str, Any], *, has_secrets: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        errors = FieldErrors()
        out = validate_secret_url(
            config,
            secrets,
            has_secrets=has_secrets,
            what="Power Automate workflow URL",
            errors=errors,
        )
        errors.raise_if_any()
        return out

    async def send(
        self,
        message: Message,
        config: Mapping[str, Any],
        secrets: Mapping[str, Any],
        ctx: SendContext,
    ) -> Delivery:
        url = secrets.get("url")
        if not isinstance(url, str) or not url:
            return Delivery(ok=False, permanent=True, error="the channel has no workflow URL")
        body = encode_json(teams_message(summarize(message, public_url=ctx.public_url)))
        return await post_json(url, body, ctx=ctx, secrets=secret_strings(secrets), kind=self.kind)
