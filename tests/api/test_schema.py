"""/v1/schema (OpenAPI 3) and /v1/docs (the server-rendered reference)."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django.urls import reverse

from pulse.errors import PROBLEM_CONTENT_TYPE


def _schema() -> dict[str, Any]:
    response = Client().get(reverse("api_schema"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    body: dict[str, Any] = response.json()
    return body


def test_the_schema_is_openapi_3_with_a_problem_component(live_db: None) -> None:
    schema = _schema()
    assert schema["openapi"].startswith("3.")
    problem = schema["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {
        "type",
        "title",
        "status",
        "detail",
        "instance",
        "request_id",
    }
    assert {"apiKey", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


def test_every_operation_documents_its_problem_answers(live_db: None) -> None:
    schema = _schema()
    operations = 0
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            operations += 1
            responses = operation["responses"]
            assert {"406", "500"} <= set(responses), (method, path)
            for code, response in responses.items():
                if int(code) >= 400:
                    content = response["content"]
                    assert list(content) == [PROBLEM_CONTENT_TYPE], (method, path, code)
                    assert content[PROBLEM_CONTENT_TYPE]["schema"] == {
                        "$ref": "#/components/schemas/Problem"
                    }
            if operation.get("security") and {} not in operation["security"]:
                assert {"401", "403"} <= set(responses), (method, path)
            if "{id}" in path:
                assert "404" in responses, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= set(responses), (method, path)
            assert operation.get("summary") or operation.get("description"), (method, path)
    assert operations >= 54
    assert "429" in schema["paths"]["/v1/monitors"]["get"]["responses"]
    assert "Retry-After" in schema["paths"]["/v1/monitors"]["get"]["responses"]["429"]["headers"]


def test_the_docs_page_lists_every_operation_without_scripts(live_db: None) -> None:
    response = Client().get(reverse("api_docs"))
    assert response.status_code == 200
    page = response.content.decode()
    schema = _schema()
    for path, methods in schema["paths"].items():
        assert path in page
        for method in methods:
            assert f'id="op-{methods[method]["operationId"]}"' in page
    # Only our own static script (the theme toggle) and the vendored htmx: no CDN, no inline.
    assert "cdn" not in page.lower() and "<script>" not in page
    assert "Problem" in page and "application/problem+json" in page
