"""The one JSON reader for request bodies: the /v1 API (DRF parser), /v1/auth and the
metrics ingest all go through :func:`load_json`.

Python's ``json`` accepts things PostgreSQL and our own renderers cannot take, and
each used to surface as a 500 far from the parser:

- a lone UTF-16 surrogate (``"\\ud800"``) decodes to a ``str`` that cannot be encoded
  as UTF-8, so the database driver, the log renderer and DEBUG's error page all fail;
- NUL (``"\\u0000"``) cannot be stored in ``text`` or ``jsonb``;
- ``1e400`` decodes to ``inf``, which is not JSON and not storable in ``jsonb``;
- deep nesting overflows the C scanner (RecursionError) or, below that, every
  recursive walk after it (serializers, the jsonb adapter).

So the body is decoded strictly, parsed, then walked once, iteratively, with a depth
bound; bad strings and numbers are reported per field path (``config.url``,
``tags[2]``), which the API answers as problem+json ``errors``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

# Deeper than any body Pulse accepts (monitor config: 3 levels); a client nesting
# further is broken or probing.
MAX_DEPTH = 32
# Errors reported per body; a body of 100,000 NULs gets the first ones, not a 5 MB answer.
MAX_ERRORS = 20

NUL_MESSAGE = "Text may not contain NUL characters (\\u0000)."
SURROGATE_MESSAGE = "Text may not contain unpaired UTF-16 surrogates (\\ud800-\\udfff)."
NUMBER_MESSAGE = "Value must be a finite number"
BODY = "body"


class JSONBodyError(ValueError):
    """A body refused: a sentence, and messages per field path when they apply."""

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def printable(text: str) -> str:
    """``text`` safe to put in an answer: surrogates become U+FFFD."""
    if not _has_surrogate(text):
        return text
    return "".join("\ufffd" if 0xD800 <= ord(char) <= 0xDFFF else char for char in text)


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return NUL_MESSAGE
    if _has_surrogate(text):
        return SURROGATE_MESSAGE
    return None


def _join(path: str, part: str | int) -> str:
    """``config.url``, ``samples[0].value``."""
    if isinstance(part, int):
        return f"{path}[{part}]"
    name = printable(part).replace("\x00", "\\u0000")
    return f"{path}.{name}" if path else name


def check_value(data: Any) -> dict[str, list[str]]:
    """Walk a decoded document without recursion; errors keyed by dotted path (the
    document itself is ``body``). Raises JSONBodyError past MAX_DEPTH."""
    errors: dict[str, list[str]] = {}

    def add(path: str, message: str) -> None:
        if len(errors) < MAX_ERRORS or (path or BODY) in errors:
            errors.setdefault(path or BODY, []).append(message)

    stack: list[tuple[str, Any, int]] = [("", data, 0)]
    while stack:
        path, value, depth = stack.pop()
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                add(path, problem)
        elif isinstance(value, float):
            if not math.isfinite(value):
                add(path, NUMBER_MESSAGE)
        elif isinstance(value, Mapping | list):
            if depth >= MAX_DEPTH:
                raise JSONBodyError(f"The JSON body is nested deeper than {MAX_DEPTH} levels.")
            if isinstance(value, Mapping):
                for key, item in value.items():
                    child = _join(path, key)
                    problem = _text_problem(key)
                    if problem:
                        add(child, f"Field name: {problem}")
                    stack.append((child, item, depth + 1))
            else:
                for index, item in enumerate(value):
                    stack.append((_join(path, index), item, depth + 1))
    return errors


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def load_json(body: bytes | str) -> Any:
    """Decode a request body, or raise JSONBodyError (a client error, never a 500)."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")  # json.loads(bytes) would also guess UTF-16/32
        except UnicodeDecodeError as exc:
            raise JSONBodyError("The body is not UTF-8 text.") from exc
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise JSONBodyError(f"The JSON body is nested deeper than {MAX_DEPTH} levels.") from exc
    except ValueError as exc:  # JSONDecodeError, and ints past the 4300-digit limit
        raise JSONBodyError(f"The body is not valid JSON: {printable(str(exc))}") from exc
    errors = check_value(data)
    if errors:
        raise JSONBodyError("The request has invalid fields.", errors)
    return data


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class BodyError(exceptions.ParseError):
    """DRF's 400 for a body that is not acceptable JSON; with field errors, the
    problem+json handler lists them (``errors``)."""

    def __init__(self, error: JSONBodyError) -> None:
        super().__init__(error.detail)
        self.errors = error.errors


class LimitedJSONParser(JSONParser):
    """Every /v1 JSON body: at most DATA_UPLOAD_MAX_MEMORY_SIZE (DRF streams the body
    past Django's own check), read by :func:`load_json`."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        if stream is None:
            return None
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(body) > limit:
            raise PayloadTooLarge()
        try:
            return load_json(body)
        except JSONBodyError as exc:
            raise BodyError(exc) from exc
