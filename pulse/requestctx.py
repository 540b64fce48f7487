"""Per-request facts (request id, client ip) available to services and logs without
threading the request object through every call."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestMeta:
    request_id: str = ""
    ip: str | None = None


_meta: ContextVar[RequestMeta | None] = ContextVar("pulse_request_meta", default=None)
_EMPTY = RequestMeta()
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def current_request_meta() -> RequestMeta:
    return _meta.get() or _EMPTY


def set_request_meta(meta: RequestMeta) -> object:
    return _meta.set(meta)


def reset_request_meta(token: object) -> None:
    _meta.reset(token)  # type: ignore[arg-type]


def new_request_id(incoming: str | None = None) -> str:
    """Honour a well-formed id from the proxy; otherwise mint one."""
    if incoming and _VALID_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex
