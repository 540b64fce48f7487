"""Authentication backend: e-mail and password, Argon2id, with timing that does not
tell a known address from an unknown one."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from accounts.models import User


class EmailBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        email: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        address = (email or username or "").strip()
        if not address or password is None:
            return None
        user = User.objects.filter(email__iexact=address).first()
        if user is None:
            # Spend the same Argon2 work as a real compare (anti-enumeration).
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    def get_user(self, user_id: Any) -> User | None:
        user = User.objects.filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
