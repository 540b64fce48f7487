"""Screen 10: notification channels (list, create/edit per kind, send test, enable,
disable, delete) and the delivery log with its dead letters (filter, retry one, retry
all dead). ``notifications/views.py`` keeps the provider callbacks.

Each view starts with its scoped getter (another org's id is the same 404 as a missing
one), then the permission check; the services check the permission again. Secrets are
never read here except through ``channel_public_config``, which names them only.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import Perm, require, role_has
from accounts.views import actor_for, org_required, role_of
from alerting.models import AlertRule
from notifications import services
from notifications.channels.base import Delivery
from notifications.forms import KINDS, ChannelForm, DeliveryFilterForm, kind_options
from notifications.models import Channel, ChannelKind, Notification, NotificationStatus
from notifications.outbox import notification_retry
from pulse.crypto import DecryptionError

PAGE_SIZE = 50
UNREADABLE = (
    "The stored secrets of this channel cannot be decrypted any more (its key left the "
    "key ring). Delete the channel and create it again."
)
RETRY_ALL_LIMIT = 500


# ------------------------------------------------------------------ helpers


def _fragment_target(request: HttpRequest) -> str | None:
    """The id of the region an HTMX request asks for; a history restore wants the page."""
    htmx = getattr(request, "htmx", None)
    if not htmx or htmx.history_restore_request:
        return None
    return str(htmx.target) if htmx.target else None


def _respond(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    context.setdefault("nav_active", "channels")
    response = render(request, template, context, status=status)
    # One URL answers the page or a fragment: caches must key on the HTMX headers.
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    # Channel forms and results are never worth caching, and never shared.
    add_never_cache_headers(response)
    return response


def _channel_for(request: HttpRequest, channel_id: uuid.UUID) -> Channel:
    """The scoped getter: the tenant manager (and RLS) only finds the org's channels."""
    try:
        return Channel.objects.get(id=channel_id)
    except Channel.DoesNotExist as exc:
        raise Http404("No such channel.") from exc


def _notification_for(request: HttpRequest, notification_id: uuid.UUID) -> Notification:
    try:
        return Notification.objects.select_related("channel").get(id=notification_id)
    except Notification.DoesNotExist as exc:
        raise Http404("No such notification.") from exc


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _stored_secrets(channel: Channel) -> tuple[list[str], bool]:
    public = services.channel_public_config(channel)
    return list(public.get("secrets_set", [])), bool(public.get("secrets_unreadable"))


def test_outcome_text(kind: str, outcome: Delivery) -> str:
    """The flash after "Send test": what came back, in the words of the protocol."""
    protocol = "SMTP" if kind == ChannelKind.EMAIL else "HTTP"
    code = f" ({protocol} {outcome.status_code})" if outcome.status_code else ""
    if outcome.ok:
        note = f" — {outcome.error}" if outcome.error else ""
        return f"Test sent{code}{note}"
    return f"Test failed{code}: {outcome.error or 'no answer'}"


# ------------------------------------------------------------------ channels


@require_GET
@org_required
def channel_list(request: HttpRequest) -> HttpResponse:
    latest = Notification.objects.filter(channel=OuterRef("pk")).order_by("-created_at")
    channels = Channel.objects.annotate(
        last_status=Subquery(latest.values("status")[:1]),
        last_at=Subquery(latest.values("created_at")[:1]),
    ).order_by("name", "id")
    rows = [(channel, KINDS.get(channel.kind)) for channel in channels]
    return _respond(request, "notifications/channel_list.html", {"rows": rows})


def _form_page(
    request: HttpRequest,
    form: ChannelForm,
    channel: Channel | None,
    *,
    status: int = 200,
    unreadable: bool = False,
) -> HttpResponse:
    context = {
        "form": form,
        "channel": channel,
        "kind_options": kind_options(form.kind),
        "kind_info": KINDS[form.kind],
        "unreadable": unreadable,
    }
    if _fragment_target(request) == "channel-fields":
        return _respond(request, "notifications/_kind_fields.html", context, status)
    return _respond(request, "notifications/channel_form.html", context, status)


@require_http_methods(["GET", "POST"])
@org_required
def channel_create(request: HttpRequest) -> HttpResponse:
    require(role_of(request), Perm.CHANNEL_WRITE)
    if request.method == "GET":
        kind = request.GET.get("kind") or ChannelKind.EMAIL
        initial = {"name": request.GET.get("name", "")} if request.GET.get("name") else None
        return _form_page(request, ChannelForm(kind=kind, initial=initial), None)
    kind = request.POST.get("kind") or ""
    if "refresh" in request.POST or kind not in KINDS:
        # No-JS kind switch (or no kind at all): show that kind's inputs, keep the name.
        form = ChannelForm(kind=kind, initial={"name": request.POST.get("name", "")})
        return _form_page(request, form, None)
    form = ChannelForm(request.POST, kind=kind)
    if form.is_valid():
        try:
            channel = services.channel_create(
                actor=actor_for(request), role=role_of(request), data=form.service_data()
            )
        except ValidationError as exc:
            form.apply_errors(exc)
        else:
            messages.success(
                request, f"{channel.name} created. Send a test to check that it arrives."
            )
            return redirect("notifications_ui:channel_detail", channel.id)
    return _form_page(request, form, None, status=400)


@require_GET
@org_required
def channel_detail(request: HttpRequest, channel_id: uuid.UUID) -> HttpResponse:
    channel = _channel_for(request, channel_id)
    secrets_set, unreadable = _stored_secrets(channel)
    recent = list(
        Notification.objects.filter(channel=channel)
        .select_related("monitor")
        .order_by("-created_at")[:10]
    )
    rules = list(AlertRule.objects.filter(channels=channel).order_by("name"))
    return _respond(
        request,
        "notifications/channel_detail.html",
        {
            "channel": channel,
            "config": channel.config or {},
            "secrets_set": secrets_set,
            "unreadable": unreadable,
            "recent": recent,
            "rules": rules,
            "kind_info": KINDS.get(channel.kind),
        },
    )


@require_http_methods(["GET", "POST"])
@org_required
def channel_edit(request: HttpRequest, channel_id: uuid.UUID) -> HttpResponse:
    channel = _channel_for(request, channel_id)
    require(role_of(request), Perm.CHANNEL_WRITE)
    stored, unreadable = _stored_secrets(channel)
    if request.method == "GET":
        form = ChannelForm(kind=channel.kind, channel=channel, stored=stored)
        return _form_page(request, form, channel, unreadable=unreadable)
    form = ChannelForm(request.POST, kind=channel.kind, channel=channel, stored=stored)
    if form.is_valid():
        data = form.service_data()
        data.pop("kind")
        try:
            channel = services.channel_update(
                actor=actor_for(request), role=role_of(request), channel=channel, data=data
            )
        except ValidationError as exc:
            form.apply_errors(exc)
        except DecryptionError:
            form.add_error(None, UNREADABLE)
        else:
            messages.success(request, f"Saved {channel.name}.")
            return redirect("notifications_ui:channel_detail", channel.id)
    return _form_page(request, form, channel, status=400, unreadable=unreadable)


@require_POST
@org_required
def channel_delete(request: HttpRequest, channel_id: uuid.UUID) -> HttpResponse:
    channel = _channel_for(request, channel_id)
    require(role_of(request), Perm.CHANNEL_WRITE)
    name = channel.name
    services.channel_delete(actor=actor_for(request), role=role_of(request), channel=channel)
    messages.success(request, f"Deleted {name}. Rules that used it no longer send there.")
    return redirect("notifications_ui:channel_list")


@require_POST
@org_required
def channel_test(request: HttpRequest, channel_id: uuid.UUID) -> HttpResponse:
    channel = _channel_for(request, channel_id)
    require(role_of(request), Perm.CHANNEL_WRITE)
    try:
        outcome = services.channel_test(
            actor=actor_for(request), role=role_of(request), channel=channel
        )
    except DecryptionError:
        messages.error(request, f"Test failed: {UNREADABLE}")
    else:
        text = test_outcome_text(channel.kind, outcome)
        if outcome.ok:
            messages.success(request, text)
        else:
            messages.error(request, text)
    default = reverse("notifications_ui:channel_detail", args=[channel.id])
    return redirect(_next_url(request, default))


@require_POST
@org_required
def channel_toggle(request: HttpRequest, channel_id: uuid.UUID) -> HttpResponse:
    channel = _channel_for(request, channel_id)
    require(role_of(request), Perm.CHANNEL_WRITE)
    enable = request.POST.get("enabled") == "1"
    try:
        services.channel_update(
            actor=actor_for(request),
            role=role_of(request),
            channel=channel,
            data={"enabled": enable},
        )
    except ValidationError as exc:
        messages.error(
            request, f"{channel.name} needs fixing first: {' '.join(exc.messages)} Edit it."
        )
    except DecryptionError:
        messages.error(request, UNREADABLE)
    else:
        state = "enabled: it receives alerts again" if enable else "disabled: it sends nothing"
        messages.success(request, f"{channel.name} {state}.")
    default = reverse("notifications_ui:channel_detail", args=[channel.id])
    return redirect(_next_url(request, default))


# ------------------------------------------------------------------ deliveries


def _deliveries(filters: dict[str, str]) -> Any:
    rows = Notification.objects.select_related("channel", "monitor").order_by("-created_at", "-id")
    if "status" in filters:
        rows = rows.filter(status=filters["status"])
    if "channel" in filters:
        rows = rows.filter(channel_id=filters["channel"])
    if "event" in filters:
        rows = rows.filter(event=filters["event"])
    return rows


@require_GET
@org_required
def delivery_list(request: HttpRequest) -> HttpResponse:
    channels = list(Channel.objects.order_by("name", "id").only("id", "name", "kind"))
    filter_form = DeliveryFilterForm(request.GET, channels=channels)
    filters = filter_form.filters()
    page = Paginator(_deliveries(filters), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "filter_form": filter_form,
        "filters": filters,
        "page": page,
        "rows": list(page.object_list),
        "dead_view": filters.get("status") == NotificationStatus.DEAD,
        "can_retry": role_has(role_of(request), Perm.CHANNEL_WRITE),
        "here": request.get_full_path(),
        "nav_active": "channels",
    }
    if _fragment_target(request) == "delivery-table":
        return _respond(request, "notifications/_delivery_table.html", context)
    return _respond(request, "notifications/delivery_list.html", context)


@require_POST
@org_required
def delivery_retry(request: HttpRequest, notification_id: uuid.UUID) -> HttpResponse:
    notification = _notification_for(request, notification_id)
    require(role_of(request), Perm.CHANNEL_WRITE)
    try:
        notification_retry(
            notification=notification, actor=actor_for(request), role=role_of(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, f"Retrying the {notification.event} notice to {notification.channel.name}."
        )
    return redirect(_next_url(request, reverse("notifications_ui:delivery_list")))


@require_POST
@org_required
def delivery_retry_dead(request: HttpRequest) -> HttpResponse:
    require(role_of(request), Perm.CHANNEL_WRITE)
    channels = list(Channel.objects.only("id", "name"))
    filters = DeliveryFilterForm(request.POST, channels=channels).filters()
    filters["status"] = NotificationStatus.DEAD
    dead = list(_deliveries(filters)[: RETRY_ALL_LIMIT + 1])
    retried = 0
    actor, role = actor_for(request), role_of(request)
    for notification in dead[:RETRY_ALL_LIMIT]:
        try:
            notification_retry(notification=notification, actor=actor, role=role)
        except ValidationError:
            continue  # retried or delivered meanwhile: nothing to do for this one
        retried += 1
    if not dead:
        messages.info(request, "No dead notifications to retry.")
    elif len(dead) > RETRY_ALL_LIMIT:
        messages.success(
            request,
            f"Retrying {retried} dead notifications; more remain — retry again when "
            "these are through.",
        )
    else:
        messages.success(request, f"Retrying {retried} dead notification(s).")
    default = reverse("notifications_ui:delivery_list") + "?status=dead"
    return redirect(_next_url(request, default))
