"""``migrate`` defaults to the owner alias: the runtime roles own no tables and may
not create any, and a migrate on them would only record migrations as applied."""

from django.core.management.base import CommandParser
from django.core.management.commands import migrate

from pulse.db import OWNER_DB


class Command(migrate.Command):
    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(database=OWNER_DB)
