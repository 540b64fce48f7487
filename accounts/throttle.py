"""Login throttling and lockout, all keyed so that an unknown e-mail address gets
exactly the answers a known one would (anti-enumeration)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone
from django_ratelimit.core import get_usage

from accounts.models import User
from pulse.middleware import client_ip


def _account_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


@dataclass(frozen=True)
class Throttle:
    limited: bool
    retry_after: int = 0


def login_throttle(request: HttpRequest, email: str) -> Throttle:
    """Count this attempt against the client IP and the account; limited if either
    is over its rate. Called before any password work (INV-5)."""
    account = _account_key(email)
    checks = (
        ("login:ip", lambda group, req: client_ip(req) or "unknown", settings.LOGIN_RATE_PER_IP),
        ("login:account", lambda group, req: account, settings.LOGIN_RATE_PER_ACCOUNT),
    )
    limited, retry_after = False, 0
    for group, key, rate in checks:
        usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
        # count 0 is django-ratelimit's "the cache failed" answer, which stays open.
        if usage and usage["should_limit"] and usage["count"]:
            limited = True
            # time_left is 0 in the window's last second (whole seconds): still limited.
            retry_after = max(retry_after, int(usage["time_left"]), 1)
    return Throttle(limited=limited, retry_after=retry_after)


def _failures_key(email: str) -> str:
    return f"login:failures:{_account_key(email)}"


def _lock_key(email: str) -> str:
    return f"login:locked:{_account_key(email)}"


def is_locked(email: str, user: User | None) -> bool:
    if cache.get(_lock_key(email)):
        return True
    return user is not None and user.is_locked()


def record_failure(email: str, user: User | None) -> bool:
    """Count a failed password; lock the account at the threshold. Returns locked."""
    window = settings.LOGIN_LOCKOUT_SECONDS
    key = _failures_key(email)
    cache.add(key, 0, timeout=window)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        failures = 1
    locked = failures >= settings.LOGIN_LOCKOUT_FAILURES
    if locked:
        cache.set(_lock_key(email), 1, timeout=window)
        cache.delete(key)
    if user is not None:
        # Persisted too, so support staff see and can clear a lock in the admin.
        user.failed_logins += 1
        fields = ["failed_logins"]
        if locked:
            user.locked_until = timezone.now() + timedelta(seconds=window)
            user.failed_logins = 0
            fields.append("locked_until")
        user.save(update_fields=fields)
    return locked


def clear_failures(email: str, user: User) -> None:
    cache.delete_many([_failures_key(email), _lock_key(email)])
    if user.failed_logins or user.locked_until:
        user.failed_logins = 0
        user.locked_until = None
        user.save(update_fields=["failed_logins", "locked_until"])


def unlock(email: str) -> None:
    cache.delete_many([_failures_key(email), _lock_key(email)])
