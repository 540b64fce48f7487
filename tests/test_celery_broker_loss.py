"""A Celery worker survives its Redis going away while it holds unacknowledged
messages (found by ``make faults``: the notifier and checks workers exited on Redis
restarts). The worker wraps both operations below in kombu's ``ignore_errors`` /
``ack_log_error``, which swallow connection errors only; an AttributeError made the
worker exit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kombu.common import ignore_errors
from kombu.connection import Connection

from pulse.celery import app


@pytest.fixture
def lost() -> Iterator[tuple[Connection, Any]]:
    """A channel with an unacknowledged delivery whose broker connection kombu has
    released, as after a Redis restart: pools disconnected, the transport's client gone."""
    conn = app.connection_for_read()
    channel: Any = conn.channel()
    transport = channel.connection
    channel.qos._delivered["lost-delivery-tag"] = None
    channel._disconnect_pools()
    transport.client = None
    try:
        yield conn, channel
    finally:
        transport.client = conn
        conn.release()


def test_closing_the_channel_is_a_connection_error_not_a_crash(
    lost: tuple[Connection, Any],
) -> None:
    conn, channel = lost
    ignore_errors(conn, channel.close)
    assert channel.qos._delivered.restored


def test_acknowledging_after_the_loss_is_a_connection_error_not_a_crash(
    lost: tuple[Connection, Any],
) -> None:
    conn, channel = lost
    with pytest.raises(conn.connection_errors):
        channel.qos.ack("lost-delivery-tag")
