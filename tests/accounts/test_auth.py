"""Sign up, log in, lockout, rate limits, anti-enumeration, sessions, CSRF, roles."""

from __future__ import annotations

import hashlib
import re
import time
import zlib
from typing import Any

import argon2
import pytest
from django.contrib.auth.hashers import get_hasher
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import AuditLog, Membership, Organization, Role, Session, User
from pulse import tenancy
from tests.clock import stop_rate_clocks
from tests.conftest import PASSWORD, Member

# Per-response randomness: the masked CSRF token and the CSP nonce.
CSRF_INPUT = re.compile(
    rb'name="csrfmiddlewaretoken" value="[^"]+"|nonce="[^"]+"|"X-CSRFToken": "[^"]+"'
)


def _login(client: Client, email: str, password: str, ip: str = "10.9.8.7") -> Any:
    return client.post(
        reverse("accounts:login"), {"email": email, "password": password}, REMOTE_ADDR=ip
    )


def test_signup_creates_the_org_and_its_owner_and_logs_in(live_db: None) -> None:
    client = Client()
    response = client.post(
        reverse("accounts:signup"),
        {
            "name": "Ada",
            "email": "Ada@Example.test",
            "password": PASSWORD,
            "org_name": "Acme Ops",
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    user = User.objects.get(email__iexact="ada@example.test")
    org = Organization.objects.get(name="Acme Ops")
    with tenancy.org_context(org.id):
        assert Membership.objects.get(user=user).role == Role.OWNER
        assert AuditLog.objects.filter(action="org.create").count() == 1
    assert user.password.startswith("argon2$argon2id$")
    assert client.get(reverse("dashboard")).status_code == 200


def test_signup_refuses_a_duplicate_email_in_any_case_with_a_field_error(owner: Member) -> None:
    response = Client().post(
        reverse("accounts:signup"),
        {
            "name": "X",
            "email": owner.user.email.upper(),
            "password": PASSWORD,
            "org_name": "Dup",
        },
    )
    assert response.status_code == 400
    assert "already exists" in response.context["form"].errors["email"][0]
    assert not Organization.objects.filter(name="Dup").exists()


def test_signup_rejects_a_weak_password_on_the_password_field(live_db: None) -> None:
    response = Client().post(
        reverse("accounts:signup"),
        {
            "name": "X",
            "email": "x@x.test",
            "password": "123",
            "org_name": "Weak",
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors["password"]
    assert not User.objects.filter(email="x@x.test").exists()


def test_login_rotates_the_session_key(owner: Member) -> None:
    client = Client()
    client.get(reverse("accounts:login"))
    session = client.session
    session["probe"] = 1
    session.save()
    before = session.session_key
    response = _login(client, owner.user.email, PASSWORD)
    assert response.status_code == 302
    after = client.cookies["pulse_session"].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert Session.objects.get(session_key=after).user_id == owner.user.id


def test_five_failures_lock_the_account_even_for_the_right_password(owner: Member) -> None:
    client = Client()
    for _ in range(5):
        response = _login(client, owner.user.email, "wrong-password")
        assert response.status_code == 200
    owner.user.refresh_from_db()
    assert owner.user.locked_until is not None
    response = _login(client, owner.user.email, PASSWORD)
    assert response.status_code == 200
    assert b"locked" in response.content
    assert "_auth_user_id" not in client.session


def test_login_is_rate_limited_per_ip_with_429(
    owner: Member, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop_rate_clocks(monkeypatch)  # no window ends between the attempts
    settings.LOGIN_RATE_PER_IP = "3/m"
    client = Client()
    codes = [_login(client, f"nobody{i}@x.test", "pw", ip="10.1.1.1").status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]
    # Another address is not affected.
    assert _login(client, owner.user.email, PASSWORD, ip="10.1.1.2").status_code == 302


def test_login_is_rate_limited_per_account_across_ips(
    owner: Member, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop_rate_clocks(monkeypatch)  # no window ends between the attempts
    settings.LOGIN_RATE_PER_ACCOUNT = "2/m"
    codes = [
        _login(Client(), owner.user.email, "bad", ip=f"10.2.0.{i}").status_code for i in range(3)
    ]
    assert codes == [200, 200, 429]


def test_the_limit_holds_in_the_last_second_of_its_window(
    owner: Member, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """django-ratelimit counts whole seconds: in a window's last second it reports 0 s
    left. That second must still refuse (it once let every attempt through)."""
    settings.LOGIN_RATE_PER_ACCOUNT = "2/m"
    account = hashlib.sha256(owner.user.email.lower().encode()).hexdigest()
    minute = int(time.time()) // 60 * 60
    # django-ratelimit ends each key's window at a key-dependent second of the minute.
    stop_rate_clocks(monkeypatch, at=float(minute + zlib.crc32(account.encode()) % 60))
    codes = [
        _login(Client(), owner.user.email, "bad", ip=f"10.3.0.{i}").status_code for i in range(3)
    ]
    assert codes == [200, 200, 429]


def test_unknown_and_known_emails_get_the_same_answer(owner: Member) -> None:
    known = _login(Client(), owner.user.email, "wrong-password")
    unknown = _login(Client(), "ghost@alpha.test", "wrong-password")
    assert known.status_code == unknown.status_code == 200
    strip = lambda body: CSRF_INPUT.sub(b"", body).replace(  # noqa: E731
        b"ghost@alpha.test", owner.user.email.encode()
    )
    assert strip(known.content) == strip(unknown.content)
    # Lockout looks the same too.
    for _ in range(5):
        known = _login(Client(), owner.user.email, "wrong")
        unknown = _login(Client(), "ghost@alpha.test", "wrong")
    assert strip(known.content) == strip(unknown.content)
    assert b"locked" in unknown.content


def test_an_unknown_email_costs_the_same_argon2_work(owner: Member, monkeypatch: Any) -> None:
    calls: list[str] = []
    real_hash = argon2.low_level.hash_secret
    real_verify = argon2.PasswordHasher.verify

    def counting_hash(*args: object, **kwargs: object) -> bytes:
        calls.append("hash")
        return real_hash(*args, **kwargs)  # type: ignore[arg-type]

    def counting_verify(self: object, *args: object, **kwargs: object) -> bool:
        calls.append("verify")
        return real_verify(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(argon2.low_level, "hash_secret", counting_hash)
    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting_verify)
    assert get_hasher().algorithm == "argon2"
    _login(Client(), "ghost@alpha.test", "wrong-password")
    unknown_calls = len(calls)
    calls.clear()
    _login(Client(), owner.user.email, "wrong-password")
    assert unknown_calls >= 1 and len(calls) >= 1


def test_password_reset_answers_the_same_and_mails_only_known_users(owner: Member) -> None:
    from accounts.tasks import send_password_reset

    client = Client()
    known = client.post(reverse("accounts:password_reset"), {"email": owner.user.email})
    unknown = client.post(reverse("accounts:password_reset"), {"email": "ghost@alpha.test"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    # The worker's job, run in-process here: it mails the known address only.
    send_password_reset(email="ghost@alpha.test")
    assert mail.outbox == []
    send_password_reset(email=owner.user.email)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "Reset your Pulse password"
    assert isinstance(message, EmailMultiAlternatives)
    assert message.alternatives and "text/html" in message.alternatives[0][1]
    path = re.search(r"(/password-reset/[^/\s]+/[^/\s]+)", str(message.body))
    assert path is not None
    response = client.post(
        path.group(1),
        {"password": "a-brand-new-passphrase", "password_again": "a-brand-new-passphrase"},
    )
    assert response.status_code == 302
    assert _login(Client(), owner.user.email, "a-brand-new-passphrase").status_code == 302
    # The link works once: the token depends on the password it replaced.
    assert client.get(path.group(1)).status_code == 400


def test_csrf_is_required_on_forms(owner: Member) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("accounts:login"), {"email": owner.user.email, "password": PASSWORD}
    )
    assert response.status_code == 403
    page = client.get(reverse("accounts:login"))
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert token is not None
    response = client.post(
        reverse("accounts:login"),
        {
            "email": owner.user.email,
            "password": PASSWORD,
            "csrfmiddlewaretoken": token.group(1).decode(),
        },
    )
    assert response.status_code == 302


def test_logout_needs_post_and_ends_the_session(owner: Member) -> None:
    client = owner.client()
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert client.get(reverse("dashboard")).status_code == 302


def test_log_out_other_sessions(owner: Member) -> None:
    first, second = owner.client(), owner.client()
    assert first.get(reverse("accounts:sessions")).status_code == 200
    first.post(reverse("accounts:sessions"))
    assert first.get(reverse("dashboard")).status_code == 200
    assert second.get(reverse("dashboard")).status_code == 302


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_viewers_and_operators_cannot_invite(owner: Member, role: str) -> None:
    from tests.conftest import add_member

    member = add_member(owner.org, f"{role}@alpha.test", role)
    response = member.client().post(
        reverse("accounts:team"), {"email": "new@alpha.test", "role": "viewer"}
    )
    assert response.status_code == 403
    assert member.client().get(reverse("accounts:team")).status_code == 200


def test_admins_invite_but_cannot_grant_owner(admin_member: Member, viewer: Member) -> None:
    client = admin_member.client()
    response = client.post(reverse("accounts:team"), {"email": "new@alpha.test", "role": "admin"})
    assert response.status_code == 302
    response = client.post(reverse("accounts:team"), {"email": "boss@alpha.test", "role": "owner"})
    assert response.status_code == 403
    response = client.post(
        reverse("accounts:member_role", args=[viewer.membership.id]), {"role": "owner"}
    )
    assert response.status_code == 403
    with tenancy.org_context(admin_member.org.id):
        assert Membership.objects.get(id=viewer.membership.id).role == Role.VIEWER


def test_the_last_owner_cannot_be_demoted(owner: Member) -> None:
    client = owner.client()
    client.post(reverse("accounts:member_role", args=[owner.membership.id]), {"role": "viewer"})
    with tenancy.org_context(owner.org.id):
        assert Membership.objects.get(id=owner.membership.id).role == Role.OWNER


def test_an_invitation_is_accepted_once_by_the_invited_address(owner: Member) -> None:
    from accounts import services
    from accounts.audit import Actor

    with tenancy.org_context(owner.org.id, user_id=owner.user.id):
        _, token = services.invitation_create(
            actor=Actor(user=owner.user),
            actor_role=Role.OWNER,
            email="newbie@alpha.test",
            role=Role.OPERATOR,
        )
    client = Client()
    page = client.get(reverse("accounts:invitation_accept", args=[token]))
    assert page.status_code == 200 and b"Alpha" in page.content
    response = client.post(
        reverse("accounts:signup") + f"?invite={token}",
        {
            "name": "Newbie",
            "email": "newbie@alpha.test",
            "password": PASSWORD,
            "org_name": "Newbie's own",
            "invite": token,
        },
    )
    assert response.status_code == 302
    newbie = User.objects.get(email="newbie@alpha.test")
    with tenancy.org_context(owner.org.id):
        assert Membership.objects.get(user=newbie).role == Role.OPERATOR
    assert client.get(reverse("accounts:invitation_accept", args=[token])).status_code == 404


def test_the_org_switcher_changes_the_active_org(owner: Member, outsider: Member) -> None:
    from tests.conftest import add_member  # noqa: F401

    with tenancy.org_context(outsider.org.id):
        Membership.objects.create(org=outsider.org, user=owner.user, role=Role.VIEWER)
    client = owner.client()
    response = client.post(reverse("accounts:org_switch"), {"org": str(outsider.org.id)})
    assert response.status_code == 302
    assert client.session["active_org_id"] == str(outsider.org.id)
    page = client.get(reverse("accounts:team"))
    assert b"outsider@beta.test" in page.content


def test_a_user_without_an_org_is_sent_to_create_one(live_db: None) -> None:
    User.objects.create_user(email="lonely@x.test", password=PASSWORD)
    client = Client()
    assert _login(client, "lonely@x.test", PASSWORD).status_code == 302
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302 and response["Location"] == reverse("accounts:org_create")
    assert client.post(reverse("accounts:org_create"), {"name": ""}).status_code == 400
    response = client.post(reverse("accounts:org_create"), {"name": "Solo Ops"})
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200
    assert Organization.objects.filter(name="Solo Ops").exists()


def test_the_reset_pages_render_and_a_forged_link_is_refused(owner: Member) -> None:
    client = Client()
    assert client.get(reverse("accounts:password_reset_done")).status_code == 200
    forged = reverse(
        "accounts:password_reset_confirm", kwargs={"uidb64": "Zm9v", "token": "abc-def"}
    )
    response = client.post(forged, {"password": "x" * 12, "password_again": "x" * 12})
    assert response.status_code == 400
    assert b"invalid or has expired" in response.content


def test_an_invitee_may_sign_up_without_an_org_of_their_own(owner: Member) -> None:
    from accounts.audit import Actor

    with tenancy.org_context(owner.org.id, user_id=owner.user.id):
        _, token = services.invitation_create(
            actor=Actor(user=owner.user),
            actor_role=Role.OWNER,
            email="joiner@alpha.test",
            role=Role.VIEWER,
        )
    orgs_before = Organization.objects.count()
    response = Client().post(
        reverse("accounts:signup") + f"?invite={token}",
        {
            "name": "Joiner",
            "email": "joiner@alpha.test",
            "password": PASSWORD,
            "org_name": "",
            "invite": token,
        },
    )
    assert response.status_code == 302
    assert Organization.objects.count() == orgs_before
    with tenancy.org_context(owner.org.id):
        assert Membership.objects.get(user__email="joiner@alpha.test").role == Role.VIEWER
