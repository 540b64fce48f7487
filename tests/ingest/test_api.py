"""POST /v1/ingest/metrics: keys and scopes, each format, limits, tenant isolation."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import ApiKey
from ingest.models import Host, HostMetric, MetricSample
from ingest.parsers import MAX_BODY_BYTES
from pulse import tenancy
from tests.conftest import Member
from tests.ingest.helpers import make_key, push
from tests.ingest.test_parsers import COLLECTD_BODY

PROBLEM = "application/problem+json"


def native(host: str = "web-1", n: int = 2, **extra: Any) -> dict[str, Any]:
    return {
        "host": host,
        "samples": [{"name": "cpu.usage", "value": 90.0 + i} for i in range(n)],
        **extra,
    }


@pytest.fixture
def key(owner: Member) -> str:
    return make_key(owner.org)


def samples_of(member: Member) -> list[MetricSample]:
    with tenancy.org_context(member.org.id):
        return list(MetricSample.objects.order_by("ts", "id"))


# ---------------------------------------------------------------------------- auth


def test_without_a_key_it_is_401_with_a_bearer_challenge(owner: Member) -> None:
    response = push(None, native())
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response["WWW-Authenticate"] == 'Bearer realm="pulse"'
    body = response.json()
    assert body["status"] == 401 and "ingest scope" in body["detail"] and body["request_id"]


@pytest.mark.parametrize(
    "authorization",
    ["Bearer pulse_nope_0123456789abcdef", "Basic dXNlcjpwYXNz", "Bearer ", "pulse_x_y"],
)
def test_a_wrong_key_is_401(owner: Member, key: str, authorization: str) -> None:
    response = push(None, native(), HTTP_AUTHORIZATION=authorization)
    assert response.status_code == 401
    assert samples_of(owner) == []


def test_a_revoked_or_expired_key_is_401(owner: Member) -> None:
    past = timezone.now() - timedelta(minutes=1)
    for token in (make_key(owner.org, revoked_at=past), make_key(owner.org, expires_at=past)):
        response = push(token, native())
        assert response.status_code == 401
        assert response.json()["detail"] == "Invalid, revoked or expired API key."


def test_a_key_without_the_ingest_scope_is_403(owner: Member) -> None:
    response = push(make_key(owner.org, ("read", "write")), native())
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM
    assert "ingest scope" in response.json()["detail"]


def test_a_push_records_the_key_use_at_most_once_a_minute(owner: Member, key: str) -> None:
    push(key, native())
    first = ApiKey.all_orgs.get(prefix=key.split("_")[1])
    assert first.last_used_at is not None and first.last_used_ip == "127.0.0.1"
    push(key, native())
    assert ApiKey.all_orgs.get(id=first.id).last_used_at == first.last_used_at


def test_it_needs_no_csrf_token_even_with_a_session(owner: Member, key: str) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)
    assert push(key, native(), client=client).status_code == 202


def test_get_is_405_problem_json(owner: Member, key: str) -> None:
    from django.test import Client
    from django.urls import reverse

    response = Client().get(reverse("ingest_metrics"), HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 405
    assert response["Content-Type"] == PROBLEM


# ------------------------------------------------------------------------- formats


def test_native_json_is_202_and_stored_with_the_host(owner: Member, key: str) -> None:
    before = timezone.now()
    body = native(labels={"env": "prod"})
    body["samples"][0]["labels"] = {"core": "0"}
    response = push(key, body)
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 2, "skipped": 0, "host": "web-1", "hosts": ["web-1"]}
    stored = samples_of(owner)
    with tenancy.org_context(owner.org.id):
        host = Host.objects.get()
        summary = HostMetric.objects.get()
    assert [(s.name, s.value, s.labels, s.host_id) for s in stored] == [
        ("cpu.usage", 90.0, {"core": "0"}, host.id),
        ("cpu.usage", 91.0, {}, host.id),
    ]
    assert host.name == "web-1" and host.labels == {"env": "prod"}
    assert host.last_seen_at >= before and host.first_seen_at >= before
    assert (summary.name, summary.samples, summary.last_value) == ("cpu.usage", 2, 91.0)


def test_pushes_update_the_host_and_the_metric_summary(owner: Member, key: str) -> None:
    now = time.time()
    push(key, {"host": "web-1", "samples": [{"name": "m", "value": 1, "ts": now - 30}]})
    with tenancy.org_context(owner.org.id):
        first_seen = Host.objects.get().first_seen_at
    push(key, {"host": "web-1", "samples": [{"name": "m", "value": 2, "ts": now - 10}]})
    # An older sample arriving late does not become the latest value.
    push(key, {"host": "web-1", "samples": [{"name": "m", "value": 3, "ts": now - 20}]})
    with tenancy.org_context(owner.org.id):
        host = Host.objects.get()
        summary = HostMetric.objects.get()
    assert host.first_seen_at == first_seen and host.last_seen_at > first_seen
    assert (summary.samples, summary.last_value) == (3, 2.0)
    assert summary.last_seen_at.timestamp() == pytest.approx(now - 10, abs=1e-3)
    assert summary.first_seen_at.timestamp() == pytest.approx(now - 30, abs=1e-3)


def test_collectd_json_is_202_skipping_nulls(owner: Member, key: str) -> None:
    response = push(key, COLLECTD_BODY)
    assert response.status_code == 202, response.content
    assert response.json() == {
        "accepted": 5,
        "skipped": 1,
        "host": "cd-probe",
        "hosts": ["cd-probe"],
    }
    assert {s.name for s in samples_of(owner)} == {
        "load.load.shortterm",
        "load.load.midterm",
        "load.load.longterm",
        "memory.memory.used",
        "cpu.0.cpu.user",
    }


def test_prometheus_text_is_202_with_the_host_parameter(owner: Member, key: str) -> None:
    text = '# TYPE node_load1 gauge\nnode_load1 0.5\nnode_up{job="node"} 1\nnode_x NaN\n'
    response = push(
        key, text, content_type="text/plain; version=0.0.4; charset=utf-8", query="?host=web-9"
    )
    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == 2 and response.json()["skipped"] == 1
    assert [(s.name, s.labels) for s in samples_of(owner)] == [
        ("node_load1", {}),
        ("node_up", {"job": "node"}),
    ]


def test_prometheus_text_with_instance_labels_names_several_hosts(owner: Member, key: str) -> None:
    text = 'up{instance="a"} 1\nup{instance="b"} 1\n'
    response = push(key, text, content_type="text/plain")
    assert response.json() == {"accepted": 2, "skipped": 0, "host": None, "hosts": ["a", "b"]}
    with tenancy.org_context(owner.org.id):
        assert sorted(Host.objects.values_list("name", flat=True)) == ["a", "b"]


# ------------------------------------------------------------------- refusals


def test_a_bad_sample_is_400_with_field_errors_and_nothing_stored(owner: Member, key: str) -> None:
    body = native()
    body["samples"].append({"name": "bad name", "value": "x"})
    response = push(key, body)
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    problem = response.json()
    assert problem["errors"] == {"samples[2].name": [problem["errors"]["samples[2].name"][0]]}
    assert "nothing was stored" in problem["detail"]
    assert samples_of(owner) == []


def test_invalid_json_is_400(owner: Member, key: str) -> None:
    response = push(key, "{nope")
    assert response.status_code == 400 and "not valid JSON" in response.json()["detail"]


def test_an_oversized_body_is_413_before_parsing(owner: Member, key: str) -> None:
    big = json.dumps(native(n=1)).encode() + b" " * MAX_BODY_BYTES
    response = push(key, big)
    assert response.status_code == 413
    assert response["Content-Type"] == PROBLEM
    assert "1024 KiB" in response.json()["detail"]
    assert samples_of(owner) == []


def test_more_than_10000_samples_is_413(owner: Member, key: str) -> None:
    text = "x 1\n" * 10_001
    response = push(key, text, content_type="text/plain", query="?host=h")
    assert response.status_code == 413 and "10,000" in response.json()["detail"]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/xml",
        "application/x-www-form-urlencoded",
        "text/plain; version=1.0.0",
        "application/openmetrics-text; version=1.0.0",
        "application/json; charset=latin-1",
    ],
)
def test_an_unknown_content_type_is_415(owner: Member, key: str, content_type: str) -> None:
    response = push(key, "x 1\n", content_type=content_type)
    assert response.status_code == 415
    assert response["Content-Type"] == PROBLEM


def test_a_compressed_body_is_415(owner: Member, key: str) -> None:
    response = push(key, native(), HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 415 and "Content-Encoding" in response.json()["detail"]


# ----------------------------------------------------------------------- tenancy


def test_samples_land_in_the_keys_org_only(owner: Member, outsider: Member) -> None:
    assert push(make_key(owner.org), native("shared-name", n=1)).status_code == 202
    assert push(make_key(outsider.org), native("shared-name", n=3)).status_code == 202
    assert len(samples_of(owner)) == 1 and len(samples_of(outsider)) == 3
    with tenancy.org_context(owner.org.id):
        mine = Host.objects.get()
    with tenancy.org_context(outsider.org.id):
        theirs = Host.objects.get()
    # Same host name in two orgs: two hosts, each org's samples on its own.
    assert mine.id != theirs.id
    assert {s.host_id for s in samples_of(owner)} == {mine.id}
    assert {s.host_id for s in samples_of(outsider)} == {theirs.id}


def test_rls_on_every_ingest_table_hides_other_orgs_at_the_database(
    owner: Member, outsider: Member
) -> None:
    push(make_key(outsider.org), native(n=2))
    with tenancy.org_context(owner.org.id), connection.cursor() as cursor:
        for table in ("hosts", "host_metrics", "metric_samples"):
            cursor.execute(f"SELECT count(*) FROM {table}")
            assert cursor.fetchone()[0] == 0, table
    with connection.cursor() as cursor:  # no org at all: nothing either
        cursor.execute("SELECT count(*) FROM metric_samples")
        assert cursor.fetchone()[0] == 0


def test_every_day_partition_of_metric_samples_has_rls_forced(live_db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = 'metric_samples'"
        )
        parts = cursor.fetchall()
    assert len(parts) >= 9  # yesterday .. a week ahead, plus the default partition
    assert all(enabled and forced for _, enabled, forced in parts), parts
