"""Property-based conformance of the whole /v1 API with its own live OpenAPI schema.

schemathesis loads ``/v1/schema`` from the app (in process, through Django's WSGI
handler, so the test database is the one it talks to) and, for every operation,
sends generated requests, valid and invalid, authenticated with a read+write key of
an org that has one of everything. Path ids are drawn from that org's real objects
half of the time, so the happy paths run too, not only the 404s. Each response must
not be a 5xx, must carry a documented status code and content type, and its body
must match the documented schema.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.test import override_settings
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import Seeded, make_key, seed
from tests.conftest import make_owner, truncate_all

MAX_EXAMPLES = 50
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Cases sent per operation ("POST /v1/monitors" → n), read by the last test.
SENT: Counter[str] = Counter()
SPENT: defaultdict[str, float] = defaultdict(float)
ANSWERS: defaultdict[str, Counter[int]] = defaultdict(Counter)


class Org:
    RESOURCES = (
        "monitors",
        "incidents",
        "channels",
        "alert-rules",
        "notifications",
        "maintenance-windows",
        "api-keys",
        "members",
        "invitations",
    )

    def __init__(self, seeded: Seeded, key: str) -> None:
        self.seeded = seeded
        self.key = key
        # Real ids per resource; never the key the run authenticates with (revoking it
        # would turn the rest of the run into 401s).
        self.ids = {
            "monitors": [str(seeded.http.id), str(seeded.push.id)],
            "incidents": [str(seeded.incident.id)],
            "channels": [str(seeded.channel.id)],
            "alert-rules": [str(seeded.rule.id)],
            "notifications": [str(seeded.notification.id)],
            "maintenance-windows": [str(seeded.window.id)],
            "api-keys": [str(seeded.api_key.id)],
            "members": [str(seeded.member.membership.id)],
            "invitations": [str(seeded.invitation.id)],
        }


# The seeded org, set by the fixture when the first case runs (strategies are built
# before, so they look it up at draw time).
RUN: dict[str, Org] = {}


def real_id(resource: str, index: int) -> str:
    ids = RUN["org"].ids[resource]
    return ids[index % len(ids)]


@pytest.fixture(scope="module")
def api_org(django_db_setup: None, django_db_blocker: Any) -> Iterator[Org]:
    # The run sends thousands of requests from one address in a minute or two.
    with (
        django_db_blocker.unblock(),
        override_settings(API_RATE="1000000/m", LOGIN_RATE_PER_IP="1000000/m"),
    ):
        try:
            owner = make_owner("owner@fuzz.test", "Fuzz")
            seeded = seed(owner)
            RUN["org"] = Org(seeded, make_key(owner, ["read", "write"], name="schemathesis"))
            yield RUN["org"]
        finally:
            truncate_all()


def _load_schema() -> Any:
    """The live schema, loaded from the app at collection (it needs no database)."""
    loaded = schemathesis.openapi.from_wsgi("/v1/schema", WSGIHandler())
    loaded.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=MAX_EXAMPLES,
        no_shrink=True,
        database="none",
        # The key is sent on every call; generated credentials would only test 401s.
        with_security_parameters=False,
    )
    # Boundary-value cases on top of 50 positive and 50 negative ones per operation
    # would double the run; the serializers' bounds are unit-tested instead.
    loaded.config.phases.coverage.enabled = False

    @loaded.hook
    def before_generate_path_parameters(context: Any, strategy: Any) -> Any:
        operation = context.operation
        resource = operation.path.split("/")[2]
        if "{id}" not in operation.path or resource not in Org.RESOURCES:
            return strategy
        real = st.integers(min_value=0, max_value=7).map(lambda i: {"id": real_id(resource, i)})
        return st.one_of(strategy, real)

    return loaded


schema = _load_schema()


@schema.parametrize()
@hypothesis_settings(
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_conforms_to_its_schema(case: Any, api_org: Org) -> None:
    SENT[case.operation.label] += 1
    started = time.monotonic()
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {api_org.key}"},
        checks=CHECKS,
    )
    SPENT[case.operation.label] += time.monotonic() - started
    ANSWERS[case.operation.label][response.status_code // 100 * 100] += 1


def test_every_operation_was_exercised() -> None:
    if not SENT:
        pytest.skip("reports on test_the_api_conforms_to_its_schema, which did not run")
    operations = [result.ok().label for result in schema.get_all_operations()]
    print(f"\nschemathesis: {len(operations)} operations, {sum(SENT.values())} cases")
    for label in operations:
        answers = " ".join(f"{code // 100}xx:{n}" for code, n in sorted(ANSWERS[label].items()))
        print(f"  {SENT[label]:5d} {SPENT[label]:6.2f}s  {label:40s} {answers}")
    assert operations, "no operations loaded"
    missing = [label for label in operations if SENT[label] == 0]
    assert missing == []
    thin = {label: SENT[label] for label in operations if SENT[label] < MAX_EXAMPLES}
    # Only operations without any input can run out of distinct cases before 50.
    for label in thin:
        operation = next(r.ok() for r in schema.get_all_operations() if r.ok().label == label)
        assert not operation.query and not operation.body, (label, SENT[label])
