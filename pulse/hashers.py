"""Argon2id with its cost from settings: production keeps Django's defaults; the test
suite lowers memory and time (same algorithm and code path) so that hundreds of
logins stay fast. Hashes record their parameters, so either verifies the other's."""

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    def __init__(self) -> None:
        self.time_cost = int(settings.ARGON2_TIME_COST)
        self.memory_cost = int(settings.ARGON2_MEMORY_KIB)
        self.parallelism = int(settings.ARGON2_PARALLELISM)
