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
        # Every save of a changed session rebuilds the whole row from here, so the
        # client recorded at login (services.user_login keeps it in the data too) must
        # come from the data, or the first later save blanks it (the login itself
        # changes the session after recording it).
        instance.ip = data.get("_ip")  # type: ignore[attr-defined]
        instance.user_agent = data.get("_ua", "")  # type: ignore[attr-defined]
        return instance
