"""``POST /v1/ingest/metrics``: host metrics pushed with an ``ingest`` API key, as native
JSON, collectd ``write_http`` JSON or Prometheus text (see ingest.parsers). It
validates, stores in one transaction and answers 202 — nothing else on the path."""

from __future__ import annotations

import time

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from ingest import parsers
from ingest.auth import IngestAuthError, authenticate_ingest
from ingest.services import metrics_ingest_batch
from pulse.errors import problem_response
from pulse.logging import get_logger

log = get_logger(__name__)

JSON_TYPES = ("application/json",)
PROMETHEUS_TYPE = "text/plain"
PROMETHEUS_VERSIONS = ("", "0.0.4")
ACCEPTED_TYPES = "application/json, text/plain; version=0.0.4 (Prometheus)"


def _parse(request: HttpRequest, body: bytes) -> parsers.Batch:
    content_type = request.content_type or ""
    params = {k.lower(): v.strip().lower() for k, v in (request.content_params or {}).items()}
    charset = params.get("charset", "utf-8")
    if charset not in ("utf-8", "utf8"):
        raise parsers.IngestError(f"Only UTF-8 bodies are accepted, not {charset}.", status=415)
    now = time.time()
    if content_type in JSON_TYPES:
        return parsers.parse_json(body, now=now)
    if content_type == PROMETHEUS_TYPE and params.get("version", "") in PROMETHEUS_VERSIONS:
        host = request.GET.get("host")
        return parsers.parse_prometheus(body, now=now, host=host)
    raise parsers.IngestError(
        f"Unsupported Content-Type {request.META.get('CONTENT_TYPE', '')[:100]!r}; send "
        f"{ACCEPTED_TYPES}.",
        status=415,
    )


def ingest_metrics(request: HttpRequest) -> HttpResponse:
    try:
        key = authenticate_ingest(request)
    except IngestAuthError as exc:
        headers = {"WWW-Authenticate": 'Bearer realm="pulse"'} if exc.status == 401 else None
        return problem_response(request, exc.status, exc.detail, headers=headers)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return problem_response(request, 400, "Invalid Content-Length.")
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    try:
        if length > parsers.MAX_BODY_BYTES:
            raise RequestDataTooBig
        body = request.body
        if len(body) > parsers.MAX_BODY_BYTES:
            raise RequestDataTooBig
        if encoding != "identity":
            raise parsers.IngestError(
                f"Content-Encoding {encoding[:40]!r} is not supported; send the body as is.",
                status=415,
            )
        batch = _parse(request, body)
    except RequestDataTooBig:
        return problem_response(
            request,
            413,
            f"The body is larger than {parsers.MAX_BODY_BYTES // 1024} KiB; send smaller batches.",
        )
    except parsers.IngestError as exc:
        log.info("ingest.metrics_refused", status=exc.status, detail=exc.detail)
        return problem_response(request, exc.status, exc.detail, errors=exc.errors or None)
    accepted = metrics_ingest_batch(org_id=key.org_id, batch=batch)
    hosts = sorted(batch.samples)
    return JsonResponse(
        {
            "accepted": accepted,
            "skipped": batch.skipped,
            "host": hosts[0] if len(hosts) == 1 else None,
            "hosts": hosts,
        },
        status=202,
    )


class MetricsIngestView(APIView):
    """Token-authenticated (no cookies, so no CSRF); DRF only for the OpenAPI schema
    and problem+json on 405 — the body is read raw, by content type."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    parser_classes = ()
    throttle_classes = ()

    @extend_schema(
        summary="Push host metrics",
        description=(
            "Authenticate with an API key that has the `ingest` scope. Bodies up to 1 MiB "
            "and 10,000 samples: native JSON `{host, samples: [{name, value, labels?, ts?}]}`, "
            "collectd write_http JSON (a list), or Prometheus text exposition 0.0.4 "
            "(`text/plain; version=0.0.4`, host from `?host=` or the `instance` label)."
        ),
        parameters=[
            OpenApiParameter(
                "host", str, description="Host for Prometheus text without an instance label"
            ),
        ],
        request={"application/json": OpenApiTypes.OBJECT, "text/plain": OpenApiTypes.STR},
        responses={
            202: OpenApiResponse(OpenApiTypes.OBJECT, description="{accepted, skipped, host}"),
            400: OpenApiResponse(description="Invalid samples (problem+json with errors)"),
            401: OpenApiResponse(description="Missing or invalid key"),
            403: OpenApiResponse(description="Key without the ingest scope"),
            413: OpenApiResponse(description="Body over 1 MiB or over 10,000 samples"),
            415: OpenApiResponse(description="Unsupported content type or encoding"),
        },
    )
    def post(self, request: Request) -> HttpResponse:
        return ingest_metrics(request._request)
