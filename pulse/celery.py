"""The Celery app. Tasks that act for one org take ``org_id`` and run inside its
tenant context (``TenantTask``); system tasks act across orgs through ``all_orgs``."""

from __future__ import annotations

import functools
import os
from typing import Any

import structlog
from celery import Celery, Task
from kombu.transport import redis as kombu_redis
from redis import exceptions as redis_errors

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pulse.settings")

app = Celery("pulse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_routes = {
    "monitors.tasks.run_checks": {"queue": "checks"},
    "alerting.tasks.*": {"queue": "alerts"},
    "incidents.tasks.*": {"queue": "alerts"},
    "notifications.tasks.*": {"queue": "notifications"},
}
app.autodiscover_tasks()


def _released_connection_is_a_connection_error() -> None:
    """Keep a worker alive when Redis goes away under load (found by ``make faults``:
    the notifier and the checks worker exited on Redis restarts).

    After a lost connection, kombu's Redis channel still works on a connection it has
    already released: restoring unacknowledged (``acks_late``) messages on close, and
    acknowledging a task that finishes after the loss, raise ``AttributeError:
    'NoneType' object has no attribute 'hostname'`` / ``'client'``. Celery ignores
    connection errors there, but treats the AttributeError as unrecoverable and the
    worker exits. Raised as the connection error it is, it is logged and the consumer
    reconnects; what those messages carried is re-sent by the outbox sweeper and the
    check leases, which never relied on them."""
    channel_class: Any = kombu_redis.Channel
    original = channel_class._connparams
    if getattr(original, "_pulse_checked", False):
        return

    @functools.wraps(original)
    def connparams(self: Any, asynchronous: bool = False) -> Any:
        if self.connection is None or self.connection.client is None:
            raise redis_errors.ConnectionError("the broker connection was already released")
        return original(self, asynchronous)

    connparams._pulse_checked = True  # type: ignore[attr-defined]
    channel_class._connparams = connparams


_released_connection_is_a_connection_error()


class TenantTask(Task):
    """Runs the task body inside the tenant context named by its ``org_id`` kwarg."""

    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from pulse import tenancy

        org_id = kwargs.get("org_id")
        if org_id is None:
            raise tenancy.NoTenantContext(f"{self.name} needs an org_id keyword argument.")
        structlog.contextvars.bind_contextvars(org_id=str(org_id), task_id=self.request.id)
        try:
            with tenancy.org_context(org_id):
                return super().__call__(*args, **kwargs)
        finally:
            structlog.contextvars.unbind_contextvars("org_id", "task_id")
