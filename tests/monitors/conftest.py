from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.monitors.peers import DnsPeer, TcpPeer, WebPeer


@pytest.fixture(scope="module")
def web() -> Iterator[WebPeer]:
    with WebPeer() as peer:
        yield peer


@pytest.fixture(scope="module")
def tcp() -> Iterator[TcpPeer]:
    with TcpPeer() as peer:
        yield peer


@pytest.fixture(scope="module")
def dns() -> Iterator[DnsPeer]:
    with DnsPeer() as peer:
        yield peer
