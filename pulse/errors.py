"""Errors: RFC 9457 problem+json for the API, templated pages for browsers.

Every API error — DRF's, Django's 404/500, CSRF and rate limits — leaves through
``problem_response`` with the request id, so clients can rely on one shape.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_default_handler

from pulse.logging import get_logger
from pulse.requestctx import current_request_meta

log = get_logger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Validation failed",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def problem_body(
    *,
    status: int,
    detail: str,
    instance: str,
    errors: dict[str, Any] | None = None,
    title: str | None = None,
    type_slug: str | None = None,
) -> dict[str, Any]:
    slug = type_slug or TITLES.get(status, "error").lower().replace(" ", "-")
    body: dict[str, Any] = {
        "type": f"https://pulse.dev/problems/{slug}",
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance,
        "request_id": current_request_meta().request_id,
    }
    if errors:
        body["errors"] = errors
    return body


def problem_response(
    request: HttpRequest,
    status: int,
    detail: str,
    *,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> JsonResponse:
    body = problem_body(
        status=status, detail=detail, instance=request.path, errors=errors, **kwargs
    )
    response = JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def wants_problem_json(request: HttpRequest) -> bool:
    return request.path.startswith("/v1/") or request.path.startswith("/api/")


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [
            str(item) if not isinstance(item, dict | list) else _flatten(item) for item in detail
        ]
    return [str(detail)]


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler producing problem+json."""
    request = context["request"]
    if isinstance(exc, RequestDataTooBig):
        body = problem_body(
            status=413, detail="The request body is too large.", instance=request.path
        )
        return Response(body, status=413, content_type=PROBLEM_CONTENT_TYPE)
    if isinstance(exc, DjangoValidationError):
        exc = drf_exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    response = drf_default_handler(exc, context)
    if response is None:
        log.error("api.unhandled_error", path=request.path, exc_info=exc)
        body = problem_body(
            status=500, detail="An unexpected error occurred.", instance=request.path
        )
        return Response(body, status=500, content_type=PROBLEM_CONTENT_TYPE)
    errors = None
    if isinstance(exc, drf_exceptions.ParseError) and getattr(exc, "errors", None):
        # The JSON reader names the fields holding bad text (pulse.api_json).
        status = 400
        errors = exc.errors  # type: ignore[attr-defined]
        detail = "The request has invalid fields."
    elif isinstance(exc, drf_exceptions.ValidationError):
        status = 400
        errors = _flatten(exc.detail)
        if isinstance(errors, list):
            errors = {"non_field_errors": errors}
        detail = "The request has invalid fields." if errors else "Invalid request."
    else:
        status = response.status_code
        data = response.data
        detail = str(data.get("detail", "")) if isinstance(data, dict) else str(data)
        if isinstance(exc, Http404 | drf_exceptions.NotFound):
            detail = "Not found."
    body = problem_body(status=status, detail=detail, instance=request.path, errors=errors)
    response.data = body
    response.status_code = status
    response.content_type = PROBLEM_CONTENT_TYPE
    wait = getattr(exc, "wait", None)
    if isinstance(exc, drf_exceptions.Throttled) and wait is not None:
        response["Retry-After"] = str(max(1, int(wait)))
    return response


def _page(request: HttpRequest, status: int, template: str, detail: str) -> HttpResponse:
    if wants_problem_json(request):
        return problem_response(request, status, detail)
    return render(request, template, {"detail": detail}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, 400, "errors/400.html", "The request could not be understood.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    detail = (
        str(exception)
        if isinstance(exception, PermissionDenied) and str(exception)
        else ("You do not have permission to do that.")
    )
    return _page(request, 403, "errors/403.html", detail)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, 404, "errors/404.html", "Not found.")


def server_error(request: HttpRequest) -> HttpResponse:
    if wants_problem_json(request):
        return problem_response(request, 500, "An unexpected error occurred.")
    # No RequestContext: the failure may be in a context processor or the session.
    page = loader.get_template("errors/500.html").render(
        {"detail": "Something went wrong on our side."}
    )
    return HttpResponse(page, status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if wants_problem_json(request):
        return problem_response(
            request, 403, f"CSRF verification failed: {reason}", type_slug="csrf"
        )
    return render(
        request,
        "errors/403.html",
        {"detail": "Your form expired or came from another site. Reload the page and try again."},
        status=403,
    )


def ratelimited(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if wants_problem_json(request):
        return problem_response(
            request, 429, "Too many requests; slow down.", headers={"Retry-After": "60"}
        )
    response = render(
        request,
        "errors/429.html",
        {"detail": "Too many requests. Wait a minute and try again."},
        status=429,
    )
    response["Retry-After"] = "60"
    return response
