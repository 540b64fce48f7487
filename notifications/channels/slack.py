"""Slack: an incoming webhook URL (a secret: the URL is the credential) and a Block Kit
message with a header, the facts as fields, and a button to the incident."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from notifications.channels import FieldErrors, Summary, summarize, truncate
from notifications.channels.base import ChannelType, Delivery, Message, SendContext
from notifications.channels.http import encode_json, post_json, validate_secret_url
from notifications.secrets import secret_strings

HEADER_LIMIT = 150  # Block Kit: plain_text in a header block
FIELD_LIMIT = 2000


def mrkdwn_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _field(title: str, value: str) -> dict[str, Any]:
    text = f"*{title}*\n{mrkdwn_escape(value)}"
    return {"type": "mrkdwn", "text": truncate(text, FIELD_LIMIT)}


def slack_message(summary: Summary) -> dict[str, Any]:
    facts = [
        ("Monitor", summary.monitor),
        ("Status", summary.status),
        ("Target", summary.target),
        ("Error", summary.error),
        ("Incident", summary.incident_title),
        ("Organization", summary.org),
    ]
    if summary.status_code is not None:
        facts.append(("HTTP status", str(summary.status_code)))
    if summary.is_test:
        facts = [
            ("Organization", summary.org),
            ("Status", "This is a test: the channel works."),
        ]
    fields = [_field(title, value) for title, value in facts if value][:10]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(summary.headline, HEADER_LIMIT)},
        },
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    if summary.link.startswith(("https://", "http://")):
        button: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": summary.link_label},
            "url": summary.link,
            "action_id": "pulse_open",
        }
        if summary.event == "down":
            button["style"] = "danger"
        elif summary.event == "recovered":
            button["style"] = "primary"
        blocks.append({"type": "actions", "elements": [button]})
    context = " · ".join(part for part in ("Pulse", summary.occurred_at) if part)
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    fallback = summary.headline + (f" — {summary.error}" if summary.error else "")
    return {"text": truncate(fallback, 3000), "blocks": blocks}


class SlackChannel(ChannelType):
    kind = "slack"
    label = "Slack"
    secret_fields = ("url",)

    def validate(
        self, config: Mapping[str, Any], secrets: Mapping[str, Any], *, has_secrets: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        errors = FieldErrors()
        out = validate_secret_url(
            config,
            secrets,
            has_secrets=has_secrets,
            what="Slack incoming webhook URL",
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
            return Delivery(ok=False, permanent=True, error="the channel has no webhook URL")
        body = encode_json(slack_message(summarize(message, public_url=ctx.public_url)))
        return await post_json(url, body, ctx=ctx, secrets=secret_strings(secrets), kind=self.kind)
