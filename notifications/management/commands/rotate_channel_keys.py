"""Re-encrypt every channel's secrets with the primary key of PULSE_ENCRYPTION_KEYS.

Rotation: put the new key first in PULSE_ENCRYPTION_KEYS (keep the old one after it),
deploy, run this command, then remove the old key.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from notifications.secrets import reencrypt_all


class Command(BaseCommand):
    help = "Re-encrypt all notification channel secrets with the current primary key."

    def handle(self, *args: Any, **options: Any) -> None:
        report = reencrypt_all()
        self.stdout.write(
            f"{report.rotated} of {report.total} channel(s) re-encrypted with key "
            f"{report.primary!r}."
        )
