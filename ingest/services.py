"""Writes for pushed metrics: validate upstream (ingest.parsers), store here, answer
fast (STYLE "ingest endpoints")."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from django.utils import timezone

from ingest.parsers import Batch, Sample
from pulse import tenancy
from pulse.db.metrics import store_samples


def metrics_ingest(*, org_id: uuid.UUID, host: str, samples: Sequence[Sample]) -> int:
    """Upsert ``host`` (last seen now) and store its samples for ``org_id``. Returns
    the number of samples stored."""
    return metrics_ingest_batch(org_id=org_id, batch=Batch(samples={host: list(samples)}))


def metrics_ingest_batch(*, org_id: uuid.UUID, batch: Batch) -> int:
    """Store a parsed request (one or more hosts) in one transaction, as ``org_id``
    on the RLS-bound connection: a key can write nowhere but its own org."""
    samples: Mapping[str, Sequence[Sample]] = batch.samples
    with tenancy.org_context(org_id):
        return store_samples(
            org_id=org_id, samples=samples, host_labels=batch.host_labels, now=timezone.now()
        )
