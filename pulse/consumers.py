"""The org's live socket (SPEC §5.5): ``/ws/org/`` joins the Channels group of the
user's active org and turns each realtime message into out-of-band HTML fragments
for the HTMX ws extension (``static/js/live.js`` applies them).

Authentication is the session (``AuthMiddlewareStack``); the active org is resolved
exactly as ``TenantMiddleware`` does for HTTP: the session's ``active_org_id`` if the
user is still a member there, else their first membership. No user → close 4401; no
membership → close 4403 (the socket is accepted first so the browser sees the code
and the ws extension does not retry, which it does for a refused handshake).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from accounts.permissions import Perm, role_has
from accounts.selectors import ACTIVE_ORG_SESSION_KEY, memberships_for_user
from pulse import tenancy
from pulse.metrics import SOCKETS
from pulse.realtime import group_name, monitor_payload  # also registers the publisher

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
SNAPSHOT_LIMIT = 2000  # monitors sent on (re)connect; pages never show more at once


def connection_count() -> int:
    """Open org sockets in this process (its share of ``websocket_connections``)."""
    return SOCKETS.count()


# Every socket of an org in this process receives the same group message: render its
# fragments once and hand the same text to all of them.
_RENDERED: OrderedDict[str, str] = OrderedDict()
_RENDERED_MAX = 64
_render_lock = threading.Lock()


def _as_datetime(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, tz=UTC) if epoch is not None else None


def render_fragments(message: dict[str, Any], *, snapshot: bool = False) -> str:
    monitors = [
        {**m, "checked": _as_datetime(m.get("checked_at"))} for m in message.get("monitors", [])
    ]
    return render_to_string(
        "includes/live_frame.html",
        {
            "monitors": monitors,
            "removed": message.get("removed", []),
            "counts": message.get("counts"),
            "incidents_changed": message.get("incidents_changed", False),
            "monitors_changed": message.get("monitors_changed", False),
            "changed_ids": " ".join(m["id"] for m in monitors),
            "snapshot": snapshot,
        },
    )


def rendered_once(message: dict[str, Any]) -> str:
    key = str(message.get("id") or "")
    with _render_lock:
        if key and key in _RENDERED:
            return _RENDERED[key]
    html = render_fragments(message)
    if key:
        with _render_lock:
            _RENDERED[key] = html
            while len(_RENDERED) > _RENDERED_MAX:
                _RENDERED.popitem(last=False)
    return html


@database_sync_to_async
def _active_org(user_id: Any, wanted: str | None) -> uuid.UUID | None:
    with tenancy.org_context(None, user_id=user_id):
        memberships = list(memberships_for_user())
    chosen = next((m for m in memberships if str(m.org_id) == wanted), None)
    if chosen is None and memberships:
        chosen = memberships[0]
    if chosen is None or not role_has(chosen.role, Perm.READ):
        return None
    return chosen.org_id


@database_sync_to_async
def _session_org(session: Any) -> str | None:
    value = session.get(ACTIVE_ORG_SESSION_KEY) if session is not None else None
    return str(value) if value else None


@database_sync_to_async
def _snapshot(org_id: uuid.UUID) -> str:
    from monitors.models import Monitor
    from monitors.selectors import status_counts

    with tenancy.org_context(org_id):
        rows = Monitor.objects.order_by("name", "id").values(
            "id", "status", "last_latency_ms", "last_check_at", "last_outcome"
        )[:SNAPSHOT_LIMIT]
        message = {"monitors": [monitor_payload(r) for r in rows], "counts": status_counts()}
    return render_fragments(message, snapshot=True)


class OrgConsumer(AsyncWebsocketConsumer):
    """One browser tab: a full snapshot on (re)connect, then coalesced updates."""

    org_id: uuid.UUID | None = None
    group: str | None = None

    async def connect(self) -> None:
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        wanted = await _session_org(self.scope.get("session"))
        org_id = await _active_org(user.pk, wanted)
        if org_id is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.org_id = org_id
        self.group = group_name(org_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await SOCKETS.opened()
        # Join first, then read: a change committed in between shows up twice (the
        # snapshot and a message), never zero times.
        await self.send(text_data=await _snapshot(org_id))

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None
            await SOCKETS.closed()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The page never talks back; anything it sends is ignored."""

    async def org_update(self, event: dict[str, Any]) -> None:
        await self.send(text_data=rendered_once(event))
