"""Liveness (/api/health, alias /health) and readiness (/health/ready)."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from pulse.logging import get_logger

log = get_logger(__name__)


def _check_db() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        log.warning("health.db_failed", error=str(exc))
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _check_redis() -> str:
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2
        )
        if not client.ping():
            return "error: no PONG"
    except Exception as exc:
        log.warning("health.redis_failed", error=str(exc))
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _answer(checks: dict[str, str]) -> JsonResponse:
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    return _answer({"db": _check_db(), "redis": _check_redis()})


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    checks = {"db": _check_db(), "redis": _check_redis()}
    if checks["db"] == "ok":
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        checks["migrations"] = "ok" if not pending else f"error: {len(pending)} pending"
    return _answer(checks)
