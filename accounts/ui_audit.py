"""Screen 15: the audit log, newest first, filtered by action (or a whole family such
as "channel"), actor, target type and a date range; admins and above only
(``Perm.AUDIT_READ``), like ``/v1/audit-logs``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from django import forms
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from accounts.models import AuditLog
from accounts.permissions import Perm, require
from accounts.views import org_required, role_of

PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label="Action", required=False)
    actor = forms.ChoiceField(label="Actor", required=False)
    target_type = forms.ChoiceField(label="Target type", required=False)
    since = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(
        self,
        data: Any,
        *,
        actions: list[str],
        actors: list[str],
        target_types: list[str],
    ) -> None:
        super().__init__(data)
        families = sorted({a.split(".", 1)[0] for a in actions if "." in a})
        choices: list[Any] = [("", "Any action")]
        for family in families:
            group = [(family, f"Any {family} action")]
            group += [(a, a) for a in actions if a.startswith(f"{family}.")]
            choices.append((family.replace("_", " ").capitalize(), group))
        choices += [(a, a) for a in actions if "." not in a]
        cast(forms.ChoiceField, self.fields["action"]).choices = choices
        cast(forms.ChoiceField, self.fields["actor"]).choices = [
            ("", "Anyone"),
            *((a, a) for a in actors),
        ]
        cast(forms.ChoiceField, self.fields["target_type"]).choices = [
            ("", "Any target"),
            *((t, t) for t in target_types),
        ]
        for name, field in self.fields.items():
            field.widget.attrs["class"] = "input" if name in ("since", "until") else "select"

    def filters(self) -> dict[str, Any]:
        """The valid filters; an invalid one is dropped and shown as an error."""
        self.is_valid()
        return {
            name: self.cleaned_data[name]
            for name in ("action", "actor", "target_type", "since", "until")
            if name not in self.errors and self.cleaned_data.get(name)
        }


def audit_entries(filters: dict[str, Any]) -> QuerySet[AuditLog]:
    entries = AuditLog.objects.order_by("-ts", "-id")
    if action := filters.get("action"):
        entries = entries.filter(Q(action=action) | Q(action__startswith=f"{action}."))
    if actor := filters.get("actor"):
        entries = entries.filter(actor_label=actor)
    if target_type := filters.get("target_type"):
        entries = entries.filter(target_type=target_type)
    since: date | None = filters.get("since")
    until: date | None = filters.get("until")
    if since:
        entries = entries.filter(ts__gte=datetime.combine(since, time.min, tzinfo=UTC))
    if until:
        # The whole "to" day counts.
        end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)
        entries = entries.filter(ts__lt=end)
    return entries


@dataclass(frozen=True)
class Row:
    entry: AuditLog
    changes_json: str
    changed: int


def _distinct(field: str) -> list[str]:
    values = AuditLog.objects.exclude(**{field: ""}).values_list(field, flat=True)
    return list(values.order_by(field).distinct())


@require_GET
@org_required
def audit_log(request: HttpRequest) -> HttpResponse:
    require(role_of(request), Perm.AUDIT_READ)
    form = AuditFilterForm(
        request.GET,
        actions=_distinct("action"),
        actors=_distinct("actor_label"),
        target_types=_distinct("target_type"),
    )
    filters = form.filters()
    page = Paginator(audit_entries(filters), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        Row(
            entry=entry,
            changes_json=json.dumps(
                entry.changes, indent=2, sort_keys=True, ensure_ascii=False, default=str
            ),
            changed=len(entry.changes) if isinstance(entry.changes, dict) else 0,
        )
        for entry in page.object_list
    ]
    context = {"form": form, "filters": filters, "page": page, "rows": rows, "nav_active": "audit"}
    htmx = getattr(request, "htmx", None)
    template = "accounts/audit.html"
    if htmx and not htmx.history_restore_request and htmx.target == "audit-table":
        template = "accounts/audit_table.html"
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response
