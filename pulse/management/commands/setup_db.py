"""Bring the database to the current schema and privileges: migrate as the owner,
then grant the runtime roles. Idempotent; ``make run``, ``make test`` and the
container entrypoint all call it."""

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from pulse.db import OWNER_DB
from pulse.db.grants import apply_grants


class Command(BaseCommand):
    help = "Migrate as the owner role and grant the app and system roles."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", database=OWNER_DB, interactive=False, verbosity=0)
        apply_grants()
        self.stdout.write("database ready")
