"""Cross-org matrix: every /v1 endpoint that takes an object id, with every method it
answers, called by another org's key and session with org A's ids, answers 404 and
changes nothing (SPEC §4: no existence leak, boundary B2).

The endpoints come from the URL resolver and are checked against the live OpenAPI
schema, so a new endpoint is probed (or fails this test) without anyone listing it."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import Organization
from pulse import tenancy
from tests.api.conftest import Seeded, assert_problem, key_api, session_api
from tests.conftest import Member

# Path parameters that are not org object ids: the heartbeat token is itself the
# credential (no org context before it is looked up), tested in tests/monitors.
NOT_OBJECT_IDS = {"ingest_heartbeat", "ingest_heartbeat_start", "ingest_heartbeat_fail"}

# A plausible body per method, so a 404 cannot hide behind a 400.
BODIES: dict[str, dict[str, Any]] = {
    "v1-monitors-detail": {"name": "pwned", "type": "http", "target": "https://x.example"},
    "v1-incidents-notes": {"text": "pwned"},
    "v1-incidents-resolve": {"note": "pwned"},
    "v1-channels-detail": {"name": "pwned", "kind": "webhook", "config": {}},
    "v1-alert-rules-detail": {"name": "pwned", "events": ["down"], "channels": []},
    "v1-members-detail": {"role": "viewer"},
}
# Volatile columns that legitimately change while the outsider makes requests.
VOLATILE = {"accounts.apikey": {"last_used_at", "last_used_ip"}}


def object_for(seeded: Seeded, basename: str) -> Any:
    return {
        "v1-monitors": seeded.http,
        "v1-incidents": seeded.incident,
        "v1-channels": seeded.channel,
        "v1-alert-rules": seeded.rule,
        "v1-notifications": seeded.notification,
        "v1-maintenance-windows": seeded.window,
        "v1-api-keys": seeded.api_key,
        "v1-members": seeded.member.membership,
        "v1-invitations": seeded.invitation,
    }[basename]


def _patterns(resolver: URLResolver, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found: list[tuple[str, URLPattern]] = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            found += _patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            found.append((prefix + str(entry.pattern), entry))
    return found


def object_endpoints() -> list[tuple[str, str, str]]:
    """(url name, method, route) for every /v1 route with a path parameter."""
    endpoints = []
    for route, pattern in _patterns(get_resolver()):
        if not route.startswith("v1/") or "<" not in route:
            continue
        assert pattern.name, route
        if pattern.name in NOT_OBJECT_IDS:
            continue
        actions = getattr(pattern.callback, "actions", None)
        assert actions, f"{route}: an object endpoint that is not a tenant viewset"
        assert "<uuid:id>" in route, f"{route}: object ids are UUIDs named id"
        # DRF adds "head" to a viewset's actions after its first GET: HEAD is GET.
        endpoints += [
            (pattern.name, method.upper(), route) for method in actions if method != "head"
        ]
    return sorted(endpoints)


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every tenant table, in every org: read org by org through the tenant
    manager (the system role may read only the tables it needs, not all of them)."""
    state: dict[str, list[dict[str, Any]]] = {}
    org_ids = sorted(Organization.objects.values_list("id", flat=True))
    for model in apps.get_models():
        if getattr(model, "all_orgs", None) is None:
            continue
        label = model._meta.label_lower
        skip = VOLATILE.get(label, set())
        rows: list[dict[str, Any]] = []
        for org_id in org_ids:
            with tenancy.org_context(org_id):
                rows += [
                    {k: v for k, v in row.items() if k not in skip}
                    for row in model.objects.order_by("pk").values()  # type: ignore[attr-defined]
                ]
        state[label] = json.loads(json.dumps(rows, default=str))
    return state


def _schema_operations() -> set[tuple[str, str]]:
    schema = Client().get(reverse("api_schema"), HTTP_ACCEPT="application/json").json()
    return {
        (path, method.upper())
        for path, operations in schema["paths"].items()
        if "{" in path
        for method in operations
    }


def _as_schema_path(route: str) -> str:
    return "/" + route.replace("<uuid:id>", "{id}")


def test_the_matrix_covers_every_object_endpoint_in_the_schema(live_db: None) -> None:
    probed = {(_as_schema_path(route), method) for _, method, route in object_endpoints()}
    heartbeat = {op for op in _schema_operations() if "{token}" in op[0]}
    assert probed == _schema_operations() - heartbeat
    assert len(probed) >= 30


def test_another_orgs_ids_answer_404_and_change_nothing(alpha: Seeded, outsider: Member) -> None:
    clients = {"key": key_api(outsider), "session": session_api(outsider)}
    endpoints = object_endpoints()
    before = snapshot()
    probed: set[tuple[str, str]] = set()
    for name, method, _route in endpoints:
        # v1-maintenance-windows-detail → v1-maintenance-windows
        target = object_for(alpha, name.rsplit("-", 1)[0])
        body = BODIES.get(name) if method in ("POST", "PUT", "PATCH") else None
        for label, api in clients.items():
            response = api.call(method, name, target.pk, body=body)
            assert response.status_code == 404, (label, method, name, response.content[:300])
            assert assert_problem(response, 404)["detail"] == "Not found."
            probed.add((name, method))
    assert probed == {(name, method) for name, method, _ in endpoints}  # 100 % probed
    assert snapshot() == before


def test_a_missing_id_and_a_foreign_id_answer_the_same(
    alpha: Seeded, outsider: Member, owner: Member
) -> None:
    outsider_api, owner_api = key_api(outsider), key_api(owner)
    foreign = outsider_api.get("v1-monitors-detail", alpha.http.id)
    missing = owner_api.get("v1-monitors-detail", uuid.uuid4())

    def strip(response: Any) -> dict[str, Any]:
        body: dict[str, Any] = response.json()
        return {k: v for k, v in body.items() if k not in ("request_id", "instance")}

    assert foreign.status_code == missing.status_code == 404
    assert strip(foreign) == strip(missing)


def test_lists_show_only_the_callers_org(alpha: Seeded, outsider: Member) -> None:
    api = key_api(outsider)
    for name in [
        "v1-monitors-list",
        "v1-incidents-list",
        "v1-channels-list",
        "v1-alert-rules-list",
        "v1-notifications-list",
        "v1-maintenance-windows-list",
        "v1-invitations-list",
    ]:
        response = api.get(name)
        assert response.status_code == 200, name
        assert response.json()["results"] == [], name
    emails = [m["user"]["email"] for m in api.get("v1-members-list").json()["results"]]
    assert emails == [outsider.user.email]
    keys = api.get("v1-api-keys-list").json()["results"]
    assert [k["name"] for k in keys] == ["test key"]
    logs = api.get("v1-audit-logs-list").json()["results"]
    assert logs and all(str(alpha.http.id) != entry["target_id"] for entry in logs)


def test_foreign_ids_in_bodies_are_unknown(alpha: Seeded, outsider: Member) -> None:
    api = key_api(outsider)
    with_channel = api.post(
        "v1-alert-rules-list",
        body={"name": "x", "events": ["down"], "channels": [str(alpha.channel.id)]},
    )
    assert set(assert_problem(with_channel, 400)["errors"]) == {"channels"}
    response = api.post(
        "v1-maintenance-windows-list",
        body={
            "name": "x",
            "cron": "0 1 * * *",
            "duration_minutes": 5,
            "monitors": [str(alpha.http.id)],
        },
    )
    assert set(assert_problem(response, 400)["errors"]) == {"monitors"}
    response = api.get("v1-incidents-list", query={"monitor": str(alpha.http.id)})
    assert response.json()["results"] == []
