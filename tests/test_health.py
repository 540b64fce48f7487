from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["health", "health_alias", "health_ready"])
def test_health_reports_db_and_redis_ok(name: str) -> None:
    response = Client().get(reverse(name))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["db"] == "ok" and body["checks"]["redis"] == "ok"
    assert response["X-Request-ID"]


@pytest.mark.django_db
def test_health_answers_503_with_detail_when_redis_is_down(settings: Any) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = Client().get(reverse("health"))
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("error")
    assert response.json()["checks"]["db"] == "ok"


def test_security_headers_and_csp_on_pages(live_db: None) -> None:
    response = Client().get(reverse("landing"))
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_an_unknown_page_is_a_styled_404_and_an_unknown_api_path_is_problem_json(
    live_db: None,
) -> None:
    page = Client().get("/no-such-page")
    assert page.status_code == 404 and b"<html" in page.content
    api = Client().get("/v1/no-such-thing")
    assert api.status_code == 404
    assert api["Content-Type"] == "application/problem+json"
    assert api.json()["status"] == 404 and api.json()["request_id"]
