"""Request bodies take only the fields an operation can act on.

DRF drops keys a serializer does not declare, so ``{"regions": ["eu"]}`` on a monitor
answered 201 and a client believed it had set something it had not. Every /v1 body
serializer derives from :class:`StrictInput`, which refuses such keys with a
field-level error; an operation that takes no body refuses any non-empty one
(:func:`refuse_body`, called by the view bases).

Fields of the answer's shape (``echo_of``) that cannot be written are accepted when
sent back unchanged, as a client does that PUTs what it got from a GET. Fields the
server changes by itself between two requests (``server_state`` on the answer's
serializer: a monitor's ``status``, ``last_check_at``…) are accepted with any value,
because a stale copy of them says nothing about what the client means to set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from rest_framework import exceptions, serializers
from rest_framework.permissions import SAFE_METHODS
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from pulse.api_json import printable

UNKNOWN = "Unknown field."
READ_ONLY = "Read-only: leave it out."
READ_ONLY_CHANGED = "Read-only: send it unchanged or leave it out."
NO_BODY = "This operation takes no body."


def _as_json(data: Any) -> Any:
    """What a client saw: the answer after a JSON round trip (UUIDs, times as text)."""
    return json.loads(JSONRenderer().render(data))


class StrictInput(serializers.Serializer):
    """Base of every request body serializer: unknown fields are errors."""

    # The serializer of this resource's answers; its fields may be echoed back.
    echo_of: ClassVar[type[serializers.Serializer[Any]] | None] = None

    def __init__(self, *args: Any, current: Any = None, **kwargs: Any) -> None:
        """``current``: the object being changed (None on create), to compare echoed
        read-only fields with."""
        self.current = current
        super().__init__(*args, **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return super().to_internal_value(data)  # DRF's "expected a dictionary"
        extra = self.extra_field_errors(data)
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if extra and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **extra}) from exc
            raise
        if extra:
            raise serializers.ValidationError(extra)
        return value

    def extra_field_errors(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        writable = {name for name, field in self.fields.items() if not field.read_only}
        extra = [key for key in data if key not in writable]
        if not extra:
            return {}
        echo = self.echo_of
        known = set(echo().fields) if echo is not None else set()
        state = frozenset(getattr(echo, "server_state", ()))
        errors: dict[str, list[str]] = {}
        shown: Any = None
        for key in extra:
            if key not in known:
                errors[printable(key)] = [UNKNOWN]
            elif self.current is None or echo is None:
                errors[key] = [READ_ONLY]
            elif key not in state:
                if shown is None:
                    shown = _as_json(echo(self.current).data)
                if data[key] != shown.get(key):
                    errors[key] = [READ_ONLY_CHANGED]
        return errors


def refuse_body(request: Request) -> None:
    """For operations without a body: a non-empty one is an error, not ignored."""
    if request.method in SAFE_METHODS:
        return
    data = request.data  # parsed (and refused when malformed) by the JSON reader
    if data is None or (isinstance(data, Mapping | list | str) and len(data) == 0):
        return
    if isinstance(data, Mapping):
        raise serializers.ValidationError({printable(str(key)): [NO_BODY] for key in data})
    raise exceptions.ParseError(NO_BODY)
