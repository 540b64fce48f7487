"""Account e-mails, sent from a worker so that a slow SMTP server never shows up in
the timing of a page (password reset must not tell known addresses apart)."""

from __future__ import annotations

from celery import shared_task
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import Invitation, User
from pulse.celery import TenantTask
from pulse.lib.mail import send_templated_email


@shared_task(
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def send_password_reset(*, email: str) -> None:
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    if user is None:
        return
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("accounts:password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    send_templated_email(
        to=[user.email], template="password_reset", context={"user": user, "path": path}
    )


@shared_task(
    base=TenantTask,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def send_invitation(*, org_id: str, invitation_id: str, token: str) -> None:
    invitation = (
        Invitation.objects.select_related("org", "invited_by").filter(id=invitation_id).first()
    )
    if invitation is None or not invitation.is_pending():
        return
    path = reverse("accounts:invitation_accept", kwargs={"token": token})
    send_templated_email(
        to=[invitation.email],
        template="invitation",
        context={"invitation": invitation, "path": path},
    )
