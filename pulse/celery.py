"""The Celery app. Tasks that act for one org take ``org_id`` and run inside its
tenant context (``TenantTask``); system tasks act across orgs through ``all_orgs``."""

from __future__ import annotations

import os
from typing import Any

import structlog
from celery import Celery, Task

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
