"""Typed readers for settings from the environment.

Each fails loudly (ImproperlyConfigured) on a value it cannot parse, and each accepts
``NAME_FILE`` pointing at a file holding the value (Docker/Kubernetes secrets).
"""

import ipaddress
import os
from pathlib import Path
from typing import overload
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_MISSING = object()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} cannot be read: {exc}") from exc
    return os.environ.get(name)


@overload
def env_str(name: str) -> str: ...
@overload
def env_str(name: str, default: str) -> str: ...
def env_str(name: str, default: object = _MISSING) -> str:
    value = _raw(name)
    if value is None or value == "":
        if default is _MISSING:
            raise ImproperlyConfigured(f"Environment variable {name} is required.")
        return str(default)
    return value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true/false).")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from exc
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum {minimum}.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_networks(name: str, default: list[str]) -> list[str]:
    """Comma-separated IP addresses or CIDR networks, normalized (``10.0.0.1`` →
    ``10.0.0.1/32``); a value that is neither fails loudly."""
    networks = []
    for item in env_list(name, default):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not an IP address or network."
            ) from exc
    return networks


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of {', '.join(choices)}.")
    return value


def database_from_url(name: str, *, engine: str) -> dict[str, object]:
    """A Django DATABASES entry from a ``postgres://user:pw@host:port/db`` URL.

    ``PULSE_DB_POOL`` turns on psycopg's connection pool. The web process wants it:
    Django's ASGI handler runs each request on a fresh thread, which would otherwise
    open (and authenticate) a new connection per request. Celery workers keep
    persistent connections (``PULSE_DB_CONN_MAX_AGE``) instead: a pool's background
    threads do not survive the prefork pool's fork.
    """
    url = env_str(name)
    pool = env_bool("PULSE_DB_POOL", False)
    pool_size = env_int("PULSE_DB_POOL_SIZE", 10, minimum=1)
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"} or not parts.path.strip("/"):
        raise ImproperlyConfigured(f"{name} must look like postgres://user:pw@host:port/dbname.")
    return {
        "ENGINE": engine,
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or 5432),
        # Daphne runs sync views in a thread pool, where persistent connections leak;
        # workers raise this through the environment.
        "CONN_MAX_AGE": 0 if pool else env_int("PULSE_DB_CONN_MAX_AGE", 0, minimum=0),
        # Pooled or not, a connection is checked before it is used again: after a
        # PostgreSQL restart a pooled connection is dead, and without the check every one
        # of them failed a request (500/503) with the server already back (make faults).
        # With a pool, Django passes psycopg_pool's check_connection to the pool.
        "CONN_HEALTH_CHECKS": True,
        "DISABLE_SERVER_SIDE_CURSORS": True,
        "OPTIONS": {"pool": {"min_size": 1, "max_size": pool_size, "timeout": 10}} if pool else {},
    }
