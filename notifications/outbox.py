"""Staff actions on the outbox."""

from __future__ import annotations

from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import Actor, audit_record
from accounts.permissions import Perm, require
from notifications.models import Notification, NotificationStatus


def notification_retry(
    *, notification: Notification, actor: Actor, role: str | None
) -> Notification:
    """Send a dead (or failed) row again, with a fresh attempt budget."""
    require(role, Perm.CHANNEL_WRITE)
    from notifications.tasks import deliver

    with transaction.atomic():
        changed = Notification.objects.filter(
            id=notification.id, status__in=[NotificationStatus.DEAD, NotificationStatus.FAILED]
        ).update(status=NotificationStatus.PENDING, attempts=0, next_attempt_at=timezone.now())
        if not changed:
            raise ValidationError("Only dead or failed notifications can be retried.")
        audit_record(
            actor=actor,
            action="notification.retry",
            org_id=notification.org_id,
            target=notification,
            changes={"previous_error": notification.last_error},
        )
        transaction.on_commit(partial(deliver.delay, ids=[str(notification.id)]))
    notification.refresh_from_db()
    return notification
