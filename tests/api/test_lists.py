"""Every list endpoint answers in a constant number of queries, however long the page
(zulip's assert_database_query_count habit)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.conftest import Api, Seeded, make_key
from tests.conftest import Member, add_member


def _grow(api: Api, alpha: Seeded, owner: Member) -> None:
    """Three or more rows in every listed table."""
    channel = str(alpha.channel.id)
    for i in range(3):
        api.post(
            "v1-alert-rules-list",
            body={
                "name": f"r{i}",
                "events": ["down"],
                "channels": [channel],
                "monitors": [str(alpha.http.id), str(alpha.push.id)],
            },
        )
        api.post(
            "v1-maintenance-windows-list",
            body={
                "name": f"w{i}",
                "cron": "0 1 * * *",
                "duration_minutes": 5,
                "monitors": [str(alpha.http.id)],
            },
        )
        api.post(
            "v1-channels-list",
            body={
                "name": f"c{i}",
                "kind": "webhook",
                "config": {"url": f"https://hooks.pulse.invalid/{i}"},
            },
        )
        api.post("v1-invitations-list", body={"email": f"i{i}@alpha.test"})
        api.post("v1-incidents-notes", alpha.incident.id, body={"text": f"n{i}"})
        add_member(owner.org, f"m{i}@alpha.test", "viewer")
        make_key(owner, ["read"], name=f"k{i}")


LISTS = [
    "v1-monitors-list",
    "v1-incidents-list",
    "v1-channels-list",
    "v1-alert-rules-list",
    "v1-notifications-list",
    "v1-maintenance-windows-list",
    "v1-api-keys-list",
    "v1-members-list",
    "v1-invitations-list",
    "v1-audit-logs-list",
]


@pytest.fixture
def grown(api: Api, alpha: Seeded, owner: Member) -> Api:
    _grow(api, alpha, owner)
    return api


@pytest.mark.parametrize("name", LISTS)
def test_list_queries_do_not_grow_with_the_page(grown: Api, name: str) -> None:
    def count(limit: int) -> tuple[int, Any]:
        with CaptureQueriesContext(connection) as queries:
            response = grown.get(name, query={"limit": limit})
        assert response.status_code == 200, response.content
        return len(queries), response.json()["results"]

    one, first = count(1)
    many, rows = count(50)
    assert len(first) == 1 and (
        len(rows) >= 2 or name in ("v1-incidents-list", "v1-notifications-list")
    )
    assert one == many, name
