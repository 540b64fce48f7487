"""Session engine: Django's database store on our own table, which also records the
session's user so that sessions can be listed and revoked ("log out other sessions")."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DBStore


class SessionStore(DBStore):
    @classmethod
    def get_model_class(cls) -> Any:
        from accounts.models import Session

        return Session

    def create_model_instance(self, data: dict[str, Any]) -> Any:
        instance = super().create_model_instance(data)
        user_id = data.get(SESSION_KEY) if data.get(HASH_SESSION_KEY) else None
        instance.user_id = user_id  # type: ignore[attr-defined]
        return instance
