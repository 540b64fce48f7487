"""E-mail as a triplet of templates: ``<name>_subject.txt``, ``<name>.txt``,
``<name>.html`` under templates/emails/."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def render_email(template: str, context: dict[str, Any]) -> tuple[str, str, str]:
    subject = render_to_string(f"emails/{template}_subject.txt", context).strip()
    subject = " ".join(subject.split())
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    return subject, text, html


def send_templated_email(*, to: list[str], template: str, context: dict[str, Any]) -> None:
    subject, text, html = render_email(template, {"public_url": settings.PUBLIC_URL, **context})
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, to)
    message.attach_alternative(html, "text/html")
    message.send()
