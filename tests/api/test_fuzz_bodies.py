"""Every body field of every /v1 write operation, fuzzed deterministically: no answer
is a 5xx (issue 10, acceptance).

The operations and their fields come from the live OpenAPI schema (/v1/schema), so a
new operation or field is fuzzed without touching this file. Each case is a valid base
body with one field replaced by a hostile value (wrong types, huge numbers, huge and
empty strings, lone surrogates, NUL, deep nesting, …), or a whole-body attack (depth
100,000, invalid UTF-8, NaN, truncated JSON, a 2 MB body). Monitor ``config`` keys, which
the schema leaves open, get the same values per monitor type. Unknown fields must be
refused with their name in ``errors``. No randomness: the same requests every run.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest
from django.test import Client, override_settings

from monitors.config import _ALLOWED_KEYS
from tests.api.conftest import Seeded, make_key, seed
from tests.conftest import PASSWORD, Member

UNKNOWN = "zz_unknown_field"
WRITE_METHODS = ("post", "put", "patch", "delete")


def deep(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


# One field at a time gets each of these.
FIELD_VALUES: list[Any] = [
    None,
    True,
    -1,
    2**31,  # past int4
    2**63,  # past int8
    1.5,
    1e308,
    "",
    "x" * 5000,
    "\ud800",
    "a\x00b",
    "00000000-0000-0000-0000-000000000000",
    [],
    ["\ud800", 2**63],
    {},
    {"\ud800": "\x00"},
    deep(40),
]
# The same, fewer, for each key of a monitor's open ``config`` object.
CONFIG_VALUES: list[Any] = [None, True, -1, 2**31, 1e308, "x" * 70_000, "a\x00b", [], {}]
# Whole bodies, as bytes on the wire.
RAW_BODIES: list[bytes] = [
    b"null",
    b"[]",
    b"1",
    b"{",
    b'{"a": 1',
    b"\xff\xfe{}",
    b'{"a": NaN}',
    b'{"a": 1e999}',
    b"[" * 600 + b"]" * 600,
    b"[" * 100_000 + b"]" * 100_000,
    b'{"\\ud800": 1}',
    b'{"a": "\\u0000"}',
    b'{"a": 1, "a": 2}',
    b'{"a": ' + b"9" * 5000 + b"}",
    b'{"a": "' + b"x" * (2 * 1024 * 1024) + b'"}',
]
EMPTY = (b"null", b"[]")


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        node = schema["components"]["schemas"][name]
    if "allOf" in node:
        merged: dict[str, Any] = {"properties": {}, "required": []}
        for part in node["allOf"]:
            part = resolve(schema, part)
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        return merged
    return node


class Fuzz:
    def __init__(self, seeded: Seeded, member: Member, key: str) -> None:
        self.seeded = seeded
        self.member = member
        self.key = key
        self.statuses: Counter[int] = Counter()
        self.server_errors: list[str] = []
        self.unknown_kept: list[str] = []
        self.session = member.client()
        self.ids = {
            "monitors": seeded.http.id,
            "incidents": seeded.incident.id,
            "channels": seeded.channel.id,
            "alert-rules": seeded.rule.id,
            "notifications": seeded.notification.id,
            "maintenance-windows": seeded.window.id,
            "api-keys": seeded.api_key.id,
            "members": seeded.member.membership.id,
            "invitations": seeded.invitation.id,
        }
        # Valid bodies, so each case differs from a success by one field.
        self.bases: dict[str, dict[str, Any]] = {
            "/v1/monitors": {"name": "F", "type": "http", "target": "https://fuzz.example/"},
            "/v1/channels": {
                "name": "F",
                "kind": "webhook",
                "config": {"url": "https://hooks.fuzz.invalid/x"},
            },
            "/v1/alert-rules": {
                "name": "F",
                "events": ["down"],
                "channels": [str(seeded.channel.id)],
            },
            "/v1/maintenance-windows": {"name": "F", "cron": "0 3 * * 0", "duration_minutes": 60},
            "/v1/api-keys": {"name": "F", "scopes": ["read"]},
            "/v1/invitations": {"email": "fuzz@example.com"},
            "/v1/members": {"role": "admin"},
            "/v1/incidents/notes": {"text": "note"},
            "/v1/incidents/resolve": {},
            "/v1/auth/login": {"email": member.user.email, "password": PASSWORD},
            "/v1/auth/signup": {
                "name": "F",
                "email": "fuzz-signup@example.com",
                "password": PASSWORD,
                "org_name": "Fuzz",
            },
            "/v1/auth/switch-org": {"org": str(member.org.id)},
            "/v1/ingest/metrics": {"host": "web-1", "samples": [{"name": "cpu", "value": 1}]},
        }

    def path_of(self, template: str) -> str:
        parts = template.split("/")
        if "{id}" in parts:
            parts[parts.index("{id}")] = str(self.ids[parts[2]])
        return "/".join(parts)

    def base_of(self, template: str) -> dict[str, Any]:
        key = "/".join(part for part in template.split("/") if part != "{id}")
        return dict(self.bases.get(key, {}))

    def send(self, method: str, template: str, body: bytes, label: str) -> Any:
        path = self.path_of(template)
        if template.startswith("/v1/auth/"):
            client, extra = self.session, {}
        else:
            client, extra = Client(), {"HTTP_AUTHORIZATION": f"Bearer {self.key}"}
        response = getattr(client, method)(path, body, content_type="application/json", **extra)
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self.server_errors.append(
                f"{method.upper()} {template} {label}: {response.status_code}"
            )
        return response

    def field_cases(self, method: str, template: str, fields: list[str]) -> None:
        base = self.base_of(template)
        for name in fields:
            for index, value in enumerate(FIELD_VALUES):
                body = json.dumps({**base, name: value}).encode()
                self.send(method, template, body, f"{name}=#{index}")
        response = self.send(method, template, json.dumps({**base, UNKNOWN: 1}).encode(), UNKNOWN)
        if response.status_code < 400 or UNKNOWN not in response.json().get("errors", {}):
            self.unknown_kept.append(f"{method.upper()} {template}: {response.status_code}")

    def raw_cases(self, method: str, template: str, *, takes_body: bool) -> None:
        for index, body in enumerate(RAW_BODIES):
            # An empty JSON value is no body: the operation would run (delete the seeded
            # objects, send a channel test off the machine), which is not the point here.
            if takes_body or body not in EMPTY:
                self.send(method, template, body, f"raw#{index}")

    def monitor_config_cases(self) -> None:
        """``config`` is an open object in the schema; its keys come from the type rules."""
        targets = {"http": "https://fuzz.example/", "tcp": "fuzz.example:5432",
                   "icmp": "fuzz.example", "dns": "fuzz.example"}  # fmt: skip
        for kind, keys in sorted(_ALLOWED_KEYS.items()):
            base = {"name": "F", "type": kind, "target": targets.get(kind, "")}
            for key in sorted(keys):
                for index, value in enumerate(CONFIG_VALUES):
                    body = json.dumps({**base, "config": {key: value}}).encode()
                    self.send("post", "/v1/monitors", body, f"config.{key}=#{index} ({kind})")


def write_operations(schema: dict[str, Any]) -> list[tuple[str, str, list[str] | None]]:
    """(method, path, body fields or None when the operation takes no body)."""
    out: list[tuple[str, str, list[str] | None]] = []
    for template, operations in sorted(schema["paths"].items()):
        for method in WRITE_METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                out.append((method, template, None))
                continue
            body = resolve(schema, content["application/json"]["schema"])
            out.append((method, template, sorted(body.get("properties", {}))))
    # Bodiless operations (deletes among them) last, so the fuzz runs on live objects.
    return sorted(out, key=lambda op: op[2] is None)


@pytest.fixture
def fuzz(owner: Member) -> Fuzz:
    return Fuzz(seed(owner), owner, make_key(owner, ["read", "write", "ingest"], name="fuzz"))


@override_settings(
    API_RATE="1000000/m",
    LOGIN_RATE_PER_IP="1000000/m",
    LOGIN_RATE_PER_ACCOUNT="1000000/m",
    LOGIN_LOCKOUT_FAILURES=1000000,
)
def test_no_body_gets_a_5xx_from_any_write_operation(fuzz: Fuzz) -> None:
    schema = json.loads(
        Client().get("/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").content
    )
    operations = write_operations(schema)
    started = time.monotonic()
    fields = 0
    for method, template, body_fields in operations:
        if body_fields is not None:
            fields += len(body_fields)
            fuzz.field_cases(method, template, body_fields)
        fuzz.raw_cases(method, template, takes_body=body_fields is not None)
    fuzz.monitor_config_cases()
    total = sum(fuzz.statuses.values())
    spent = time.monotonic() - started
    print(
        f"\nbody fuzz: {len(operations)} write operations, {fields} body fields, {total} "
        f"requests in {spent:.1f}s; statuses {dict(sorted(fuzz.statuses.items()))}"
    )
    assert fields >= 40 and len(operations) >= 30
    assert fuzz.server_errors == []
    assert fuzz.unknown_kept == []
