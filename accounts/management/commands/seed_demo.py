"""Create the demo organization and login for ``make run``. Idempotent."""

from typing import Any

from django.core.management.base import BaseCommand

from accounts import services
from accounts.models import User

DEMO_EMAIL = "demo@pulse.local"
DEMO_PASSWORD = "pulse-demo-password"  # noqa: S105 - the published local demo login


class Command(BaseCommand):
    help = "Seed the demo org and user (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if User.objects.filter(email__iexact=DEMO_EMAIL).exists():
            self.stdout.write(f"demo login exists: {DEMO_EMAIL}")
            return
        services.user_signup(
            email=DEMO_EMAIL, password=DEMO_PASSWORD, name="Demo User", org_name="Demo Org"
        )
        self.stdout.write(f"demo login created: {DEMO_EMAIL} / {DEMO_PASSWORD}")
