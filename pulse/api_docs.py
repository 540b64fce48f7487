"""The OpenAPI schema of /v1 and its browsable docs page.

Every operation documents its problem+json error answers (one reusable ``Problem``
component), worked out from the view that serves it: 401/403 when it needs
authentication, 404 for ids and cursors, 400/413/415 when it takes a body, 429 when
it is rate limited, and 406/500 always. The docs page is rendered on the server from
the same schema: no CDN, no script (our CSP forbids both).
"""

from __future__ import annotations

import inspect
from functools import cache
from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.renderers import OpenApiJsonRenderer
from rest_framework import permissions, serializers
from rest_framework.renderers import JSONRenderer

from pulse.errors import PROBLEM_CONTENT_TYPE, TITLES

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# For extend_schema(responses=...) on actions that can refuse without a body to blame.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem: every error the API answers has this shape.",
    "required": ["type", "title", "status", "detail", "instance", "request_id"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "The request path."},
        "request_id": {"type": "string", "description": "Quote it to support."},
        "errors": {
            "type": "object",
            "description": (
                "Field-level messages keyed by field name (dotted for nested settings, "
                "e.g. config.url); non_field_errors for the request as a whole."
            ),
            "additionalProperties": {},
        },
    },
}
_PAGINATION_PARAMS = {"cursor", "limit"}


class ProblemSerializer(serializers.Serializer):
    """For views that declare a problem answer explicitly (``responses={(401,
    PROBLEM_CONTENT_TYPE): ProblemSerializer}``); the generator replaces the component
    with PROBLEM_SCHEMA."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField()
    request_id = serializers.CharField()

    class Meta:
        ref_name = "Problem"


BAD_REQUEST = {(400, PROBLEM_CONTENT_TYPE): ProblemSerializer}


class EnumField(serializers.ChoiceField):
    """A ChoiceField documented as its own named enum component. drf-spectacular names
    enums after the field, so several ``status`` or ``kind`` fields with different
    choices collide (a warning that fails ``check --deploy``); these name themselves."""

    def __init__(self, enum_name: str, choices: Any, **kwargs: Any) -> None:
        self.enum_name = enum_name
        super().__init__(choices, **kwargs)


class EnumFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "pulse.api_docs.EnumField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        field = self.target
        component = ResolvedComponent(
            name=field.enum_name,
            type=ResolvedComponent.SCHEMA,
            object=field.enum_name,
            schema={"type": "string", "enum": list(field.choices)},
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "pulse.api_auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "pulse_<prefix>_<secret>",
            "description": "An org API key: read, write and/or ingest scopes.",
        }


class PulseSessionScheme(OpenApiAuthenticationExtension):
    target_class = "pulse.api.SessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        from django.conf import settings

        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": "The browser session; unsafe methods need the X-CSRFToken header.",
        }


class PulseAutoSchema(AutoSchema):
    """drf-spectacular's inspector; tags come from the first path segment after /v1."""

    def get_description(self) -> str:  # type: ignore[override]  # drf-spectacular's own
        """The action's own docstring, else the view class's own: never one inherited
        from a base class or mixin."""
        view = self.view
        name = getattr(view, "action", None) or self.method.lower()
        action_doc = getattr(getattr(view, name, None), "__doc__", None)
        view_doc = vars(type(view)).get("__doc__")
        doc = action_doc or view_doc
        return inspect.cleandoc(doc) if doc else ""

    def get_tags(self) -> list[str]:
        segments = [s for s in self.path.split("/") if s and not s.startswith("{")]
        return [segments[1] if len(segments) > 1 else "api"]


def _problem(code: int, description: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description or TITLES.get(code, "Error"),
        "content": {PROBLEM_CONTENT_TYPE: {"schema": PROBLEM_REF}},
    }
    if code == 429:
        response["headers"] = {
            "Retry-After": {
                "schema": {"type": "integer", "minimum": 1},
                "description": "Seconds to wait before trying again.",
            }
        }
    if code == 401:
        response["headers"] = {
            "WWW-Authenticate": {"schema": {"type": "string"}, "description": "The scheme."}
        }
    return response


def _needs_auth(view: Any) -> bool:
    classes = getattr(view, "permission_classes", [])
    return any(not issubclass(cls, permissions.AllowAny) for cls in classes)


def error_codes(view: Any, method: str, path: str, operation: dict[str, Any]) -> list[int]:
    params = {p.get("name") for p in operation.get("parameters", []) if p.get("in") == "query"}
    has_body = "requestBody" in operation
    codes = [406, 500]
    if has_body or params - _PAGINATION_PARAMS:
        codes.append(400)
    if _needs_auth(view):
        codes += [401, 403]
    if "{" in path or "cursor" in params:
        codes.append(404)
    if has_body:
        codes += [413, 415]
    if getattr(view, "throttle_classes", None):
        codes.append(429)
    return sorted(codes)


class PulseSchemaGenerator(SchemaGenerator):
    def _get_paths_and_endpoints(self) -> Any:
        endpoints = super()._get_paths_and_endpoints()
        self._views = {(path, method.lower()): view for path, _, method, view in endpoints}
        return endpoints

    def get_schema(self, request: Any = None, public: bool = False) -> Any:
        schema = super().get_schema(request, public)
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                view = self._views.get((path, method))
                responses = operation.setdefault("responses", {})
                for code in error_codes(view, method, path, operation):
                    responses.setdefault(str(code), _problem(code))
                for code, response in responses.items():
                    # Declared error answers without a body still send a problem.
                    if int(code) >= 400 and not response.get("content"):
                        response["content"] = {PROBLEM_CONTENT_TYPE: {"schema": PROBLEM_REF}}
        return schema


def schema_view() -> Any:
    """``GET /v1/schema``: the OpenAPI 3 document, public like the docs.

    drf-spectacular's views read DEFAULT_GENERATOR_CLASS at import, which may name the
    generator above: they are imported here, not at the top of the module."""
    from drf_spectacular.views import SpectacularAPIView

    return SpectacularAPIView.as_view(
        generator_class=PulseSchemaGenerator,
        renderer_classes=[OpenApiJsonRenderer, JSONRenderer],
        authentication_classes=[],
        permission_classes=[permissions.AllowAny],
        serve_public=True,
    )


@cache
def _schema_for_docs() -> dict[str, Any]:
    return dict(PulseSchemaGenerator().get_schema(request=None, public=True))


def _ref_name(schema: dict[str, Any] | None) -> str:
    """A short, readable name for a schema: its component, its values or its type."""
    if not schema:
        return ""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"])
    if schema.get("type") == "array":
        return f"list of {_ref_name(schema.get('items')) or 'items'}"
    kind = str(schema.get("type", "object"))
    return f"{kind} ({schema['format']})" if "format" in schema else kind


def _content_name(content: dict[str, Any] | None) -> str:
    for media_type, body in (content or {}).items():
        name = _ref_name(body.get("schema"))
        return f"{name} ({media_type})" if name else media_type
    return ""


def _phrase(code: str) -> str:
    try:
        return HTTPStatus(int(code)).phrase
    except ValueError:
        return ""


def docs_operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema's operations flattened for the page, grouped by tag in path order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            tag = (operation.get("tags") or ["api"])[0]
            groups.setdefault(tag, []).append(
                {
                    "id": operation.get("operationId", f"{method}-{path}"),
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary") or operation.get("description", ""),
                    "parameters": [
                        {
                            "name": p.get("name"),
                            "in": p.get("in"),
                            "required": p.get("required", False),
                            "type": _ref_name(p.get("schema")),
                            # drf-spectacular lists enum values as markdown: shown as type.
                            "description": ""
                            if "enum" in p.get("schema", {})
                            else p.get("description", ""),
                        }
                        for p in operation.get("parameters", [])
                    ],
                    "body": _content_name(operation.get("requestBody", {}).get("content")),
                    "responses": [
                        {
                            "code": code,
                            "description": response.get("description") or _phrase(code),
                            "body": _content_name(response.get("content")),
                        }
                        for code, response in sorted(operation.get("responses", {}).items())
                    ],
                    "security": sorted(
                        {name for item in operation.get("security", []) for name in item}
                    ),
                }
            )
    return [{"tag": tag, "operations": ops} for tag, ops in groups.items()]


def docs_components(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Each object component with its fields, for the page's schema reference."""
    found = []
    for name, component in sorted(schema.get("components", {}).get("schemas", {}).items()):
        required = set(component.get("required", []))
        fields = [
            {
                "name": field,
                "type": _ref_name(spec) + (" or null" if spec.get("nullable") else ""),
                "required": field in required,
                "read_only": bool(spec.get("readOnly")),
                "write_only": bool(spec.get("writeOnly")),
                "description": "" if "enum" in spec else spec.get("description", ""),
            }
            for field, spec in component.get("properties", {}).items()
        ]
        found.append(
            {
                "name": name,
                "description": component.get("description", ""),
                "type": "" if fields else _ref_name(component),
                "fields": fields,
            }
        )
    return found


def docs(request: HttpRequest) -> HttpResponse:
    """``GET /v1/docs``: every operation, its parameters, bodies and answers."""
    schema = _schema_for_docs()
    return render(
        request,
        "api/docs.html",
        {
            "info": schema.get("info", {}),
            "groups": docs_operations(schema),
            "schemes": schema.get("components", {}).get("securitySchemes", {}),
            "components": docs_components(schema),
        },
    )
