"""The sessions list names each session's client: the address and browser recorded at
login survive the session's later saves (found by ``make smoke``: every row showed "—")."""

from __future__ import annotations

from django.test import Client

from accounts.models import Session
from tests.conftest import PASSWORD, Member


def test_the_login_address_and_browser_stay_on_the_session_row(owner: Member) -> None:
    client = Client(HTTP_USER_AGENT="SmokeBrowser/1.0")
    response = client.post(
        "/login", {"email": owner.user.email, "password": PASSWORD}, REMOTE_ADDR="198.51.100.4"
    )
    assert response.status_code == 302
    client.get("/app/")  # a later request that saves the session again
    row = Session.objects.get(session_key=client.session.session_key)
    assert (row.ip, row.user_agent) == ("198.51.100.4", "SmokeBrowser/1.0")
    page = client.get("/settings/sessions").content.decode()
    assert "198.51.100.4" in page and "SmokeBrowser/1.0" in page
