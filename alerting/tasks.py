from __future__ import annotations

from celery import shared_task

from alerting.reminders import send_due_reminders


@shared_task(ignore_result=True)
def remind_unacknowledged() -> int:
    return send_due_reminders()
