"""Screen 11: alert rules (list, create, edit, delete) and maintenance windows (list
with what is active now, create one-off or recurring with a preview of the next
occurrences, delete).

Each view that takes an id starts with its scoped getter: another org's id and a
missing id are the same 404. Writes need admin or above (the services check again).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import Perm, require
from accounts.views import actor_for, org_required, role_of
from alerting import services
from alerting.engine import window_active
from alerting.forms import MaintenanceForm, RuleForm, next_occurrences
from alerting.models import (
    AlertRule,
    AlertRuleChannel,
    AlertRuleMonitor,
    MaintenanceWindow,
    MonitorScope,
)
from monitors.selectors import all_tags, monitor_list
from notifications.models import Channel

PAGE_SIZE = 50


def _fragment_target(request: HttpRequest) -> str | None:
    htmx = getattr(request, "htmx", None)
    if not htmx or htmx.history_restore_request:
        return None
    return str(htmx.target) if htmx.target else None


def _respond(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


# ------------------------------------------------------------------ rules


def _rule_for(request: HttpRequest, rule_id: uuid.UUID) -> AlertRule:
    """The scoped getter: only the org's rules are found (tenant manager and RLS)."""
    try:
        return AlertRule.objects.get(id=rule_id)
    except AlertRule.DoesNotExist as exc:
        raise Http404("No such alert rule.") from exc


@require_GET
@org_required
def rule_list(request: HttpRequest) -> HttpResponse:
    rules = (
        AlertRule.objects.order_by("name", "id")
        .annotate(monitor_count=Count("alertrulemonitor", distinct=True))
        .prefetch_related("channels")
    )
    page = Paginator(rules, PAGE_SIZE).get_page(request.GET.get("page"))
    return _respond(
        request,
        "alerting/rule_list.html",
        {
            "page": page,
            "rules": list(page.object_list),
            "has_channels": Channel.objects.exists(),
            "nav_active": "rules",
        },
    )


def _rule_form(request: HttpRequest, rule: AlertRule | None = None, data: Any = None) -> RuleForm:
    kwargs: dict[str, Any] = {}
    if rule is not None:
        kwargs["rule_monitors"] = [
            str(i)
            for i in AlertRuleMonitor.objects.filter(rule=rule).values_list("monitor_id", flat=True)
        ]
        kwargs["rule_channels"] = [
            str(i)
            for i in AlertRuleChannel.objects.filter(rule=rule).values_list("channel_id", flat=True)
        ]
    return RuleForm(
        data,
        monitors=list(monitor_list().only("id", "name")),
        channels=list(Channel.objects.order_by("name", "id").only("id", "name", "enabled")),
        tags=all_tags(),
        rule=rule,
        **kwargs,
    )


def _rule_page(
    request: HttpRequest, form: RuleForm, rule: AlertRule | None, status: int = 200
) -> HttpResponse:
    return _respond(
        request,
        "alerting/rule_form.html",
        {"form": form, "rule": rule, "nav_active": "rules", "scopes": MonitorScope},
        status,
    )


@require_http_methods(["GET", "POST"])
@org_required
def rule_create(request: HttpRequest) -> HttpResponse:
    require(role_of(request), Perm.RULE_WRITE)
    form = _rule_form(request, data=request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            try:
                rule = services.rule_create(
                    actor=actor_for(request), role=role_of(request), data=form.service_data()
                )
            except ValidationError as exc:
                form.apply_errors(exc)
            else:
                messages.success(request, f"Rule {rule.name} created.")
                return redirect("alerting:rule_list")
        return _rule_page(request, form, None, status=400)
    return _rule_page(request, form, None)


@require_http_methods(["GET", "POST"])
@org_required
def rule_edit(request: HttpRequest, rule_id: uuid.UUID) -> HttpResponse:
    rule = _rule_for(request, rule_id)
    require(role_of(request), Perm.RULE_WRITE)
    form = _rule_form(request, rule, data=request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            try:
                rule = services.rule_update(
                    actor=actor_for(request),
                    role=role_of(request),
                    rule=rule,
                    data=form.service_data(),
                )
            except ValidationError as exc:
                form.apply_errors(exc)
            else:
                messages.success(request, f"Saved rule {rule.name}.")
                return redirect("alerting:rule_list")
        return _rule_page(request, form, rule, status=400)
    return _rule_page(request, form, rule)


@require_POST
@org_required
def rule_delete(request: HttpRequest, rule_id: uuid.UUID) -> HttpResponse:
    rule = _rule_for(request, rule_id)
    require(role_of(request), Perm.RULE_WRITE)
    name = rule.name
    services.rule_delete(actor=actor_for(request), role=role_of(request), rule=rule)
    messages.success(request, f"Deleted rule {name}.")
    return redirect("alerting:rule_list")


# ------------------------------------------------------------------ maintenance


def _window_for(request: HttpRequest, window_id: uuid.UUID) -> MaintenanceWindow:
    try:
        return MaintenanceWindow.objects.get(id=window_id)
    except MaintenanceWindow.DoesNotExist as exc:
        raise Http404("No such maintenance window.") from exc


@dataclass(frozen=True)
class WindowRow:
    window: MaintenanceWindow
    state: str  # active, scheduled, recurring, ended, off
    monitors: list[str]
    upcoming: list[tuple[datetime, datetime]]


def _state(window: MaintenanceWindow, now: datetime) -> str:
    if not window.enabled:
        return "off"
    if window_active(window, now):
        return "active"
    if window.cron:
        return "recurring"
    if window.starts_at and window.starts_at > now:
        return "scheduled"
    return "ended"


@require_GET
@org_required
def maintenance_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    windows = MaintenanceWindow.objects.order_by("-created_at", "-id").prefetch_related("monitors")
    page = Paginator(windows, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        WindowRow(
            window=w,
            state=_state(w, now),
            monitors=[m.name for m in w.monitors.all()],
            upcoming=next_occurrences(w.cron, w.timezone, w.duration_minutes, now=now)
            if w.cron
            else [],
        )
        for w in page.object_list
    ]
    return _respond(
        request,
        "alerting/maintenance_list.html",
        {
            "page": page,
            "rows": rows,
            "active_count": sum(1 for r in rows if r.state == "active"),
            "nav_active": "maintenance",
        },
    )


def _default_timezone() -> str:
    """The zone the org last chose for a window: the form starts from it."""
    last = MaintenanceWindow.objects.order_by("-created_at").values_list("timezone", flat=True)
    return last.first() or "UTC"


@require_http_methods(["GET", "POST"])
@org_required
def maintenance_create(request: HttpRequest) -> HttpResponse:
    require(role_of(request), Perm.MAINTENANCE_WRITE)
    if _fragment_target(request) == "cron-preview":
        duration = request.GET.get("duration_minutes") or ""
        upcoming = next_occurrences(
            request.GET.get("cron", ""),
            request.GET.get("timezone", "UTC"),
            int(duration) if duration.isdigit() else None,
        )
        return _respond(
            request,
            "alerting/_cron_preview.html",
            {"upcoming": upcoming, "cron": request.GET.get("cron", "").strip()},
        )
    monitors = list(monitor_list().only("id", "name"))
    if request.method == "GET":
        form = MaintenanceForm(monitors=monitors, initial={"timezone": _default_timezone()})
        status = 200
    else:
        form = MaintenanceForm(request.POST, monitors=monitors)
        if form.is_valid():
            try:
                window = services.maintenance_create(
                    actor=actor_for(request), role=role_of(request), data=form.service_data()
                )
            except ValidationError as exc:
                form.apply_errors(exc)
            else:
                messages.success(request, f"Maintenance window {window.name} scheduled.")
                return redirect("alerting:maintenance_list")
        status = 400
    data = form.data if form.is_bound else {}
    upcoming = next_occurrences(
        str(data.get("cron", "")),
        str(data.get("timezone", "UTC")),
        int(data["duration_minutes"]) if str(data.get("duration_minutes", "")).isdigit() else None,
    )
    return _respond(
        request,
        "alerting/maintenance_form.html",
        {
            "form": form,
            "upcoming": upcoming,
            "cron": str(data.get("cron", "")).strip(),
            "nav_active": "maintenance",
        },
        status,
    )


@require_POST
@org_required
def maintenance_delete(request: HttpRequest, window_id: uuid.UUID) -> HttpResponse:
    window = _window_for(request, window_id)
    require(role_of(request), Perm.MAINTENANCE_WRITE)
    name = window.name
    services.maintenance_delete(actor=actor_for(request), role=role_of(request), window=window)
    messages.success(request, f"Deleted maintenance window {name}.")
    return redirect("alerting:maintenance_list")
