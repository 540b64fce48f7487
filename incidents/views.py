"""Incident screens: the list (filter by status) and the detail page (timeline,
notifications sent, acknowledge / resolve / note). Both refresh their live region
when the org's realtime socket says incidents changed."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import Perm, require, role_has
from accounts.views import actor_for, org_required, role_of
from incidents import selectors, services
from incidents.models import Incident, IncidentEvent, IncidentStatus
from incidents.services import MAX_NOTE
from monitors.views import fragment_target, respond
from notifications.models import Notification

PAGE_SIZE = 50
# Timeline dot per event kind (a class modifier; the label always says it in words).
EVENT_TONE = {
    "opened": "down",
    "degraded": "degraded",
    "flapping_started": "degraded",
    "flapping_stopped": "up",
    "recovered": "up",
    "resolved": "up",
    "acknowledged": "accent",
    "notified": "muted",
    "reminded": "muted",
    "note": "muted",
}


class NoteForm(forms.Form):
    text = forms.CharField(
        label="Add a note",
        max_length=MAX_NOTE,
        error_messages={"required": "Write something first."},
        help_text="Visible to everyone in the org, on the timeline with your name.",
        widget=forms.Textarea(attrs={"rows": "3"}),
    )


def _incident_for(request: HttpRequest, incident_id: uuid.UUID) -> Incident:
    """The one scoped getter: another org's id and a missing id are the same 404."""
    try:
        return selectors.incident_get(incident_id=incident_id)
    except Incident.DoesNotExist as exc:
        raise Http404("No such incident.") from exc


def actor_display(label: str) -> str:
    """``system:state-machine`` → "Pulse (state machine)"; people stay as they are."""
    if label.startswith("system:"):
        return f"Pulse ({label.removeprefix('system:').replace('-', ' ')})"
    return label or "Pulse"


# -------------------------------------------------------------------- list


@org_required
@require_GET
def incident_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or None
    if status not in IncidentStatus.values:
        status = None
    incidents = selectors.incident_list(status=status).select_related(
        "acknowledged_by", "resolved_by"
    )
    page = Paginator(incidents, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = {
        row["status"]: row["n"]
        for row in Incident.objects.values("status").annotate(n=Count("id")).order_by()
    }
    context: dict[str, Any] = {
        "nav_active": "incidents",
        "page": page,
        "incidents": list(page.object_list),
        "status": status,
        "tabs": [
            (None, "All", sum(counts.values())),
            *((value, label, counts.get(value, 0)) for value, label in IncidentStatus.choices),
        ],
    }
    if fragment_target(request) == "incidents-table":
        return respond(request, "incidents/_table.html", context)
    return respond(request, "incidents/list.html", context)


# ------------------------------------------------------------------ detail


def _detail_context(request: HttpRequest, incident: Incident) -> dict[str, Any]:
    events: list[IncidentEvent] = list(selectors.incident_timeline(incident))
    for event in events:
        event.tone = EVENT_TONE.get(event.kind, "muted")  # type: ignore[attr-defined]
        event.actor = actor_display(event.actor_label)  # type: ignore[attr-defined]
    notifications = (
        Notification.objects.filter(incident=incident)
        .select_related("channel")
        .order_by("created_at")
    )
    return {
        "nav_active": "incidents",
        "incident": incident,
        "monitor": incident.monitor,
        "events": events,
        "notifications": list(notifications),
        "can_respond": role_has(role_of(request), Perm.INCIDENT_RESPOND),
    }


def _detail_page(
    request: HttpRequest, incident: Incident, note_form: NoteForm, status: int = 200
) -> HttpResponse:
    context = _detail_context(request, incident)
    if fragment_target(request) == "incident-live":
        return respond(request, "incidents/_detail_live.html", context)
    context["note_form"] = note_form
    return respond(request, "incidents/detail.html", context, status=status)


@org_required
@require_GET
def incident_detail(request: HttpRequest, incident_id: uuid.UUID) -> HttpResponse:
    incident = _incident_for(request, incident_id)
    return _detail_page(request, incident, NoteForm())


@require_POST
@org_required
def incident_acknowledge(request: HttpRequest, incident_id: uuid.UUID) -> HttpResponse:
    incident = _incident_for(request, incident_id)
    services.incident_acknowledge(
        incident=incident, actor=actor_for(request), role=role_of(request)
    )
    messages.success(request, "Acknowledged: repeat notifications stop; Pulse keeps checking.")
    return redirect("incidents:detail", incident.id)


@require_POST
@org_required
def incident_resolve(request: HttpRequest, incident_id: uuid.UUID) -> HttpResponse:
    incident = _incident_for(request, incident_id)
    services.incident_resolve(
        incident=incident,
        actor=actor_for(request),
        role=role_of(request),
        note=request.POST.get("note", ""),
    )
    messages.success(
        request, "Resolved. If the monitor is still failing, a new incident opens when confirmed."
    )
    return redirect("incidents:detail", incident.id)


@require_POST
@org_required
def incident_note(request: HttpRequest, incident_id: uuid.UUID) -> HttpResponse:
    incident = _incident_for(request, incident_id)
    # Permission before validation: a viewer gets 403 whatever they sent.
    require(role_of(request), Perm.INCIDENT_RESPOND)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.incident_add_note(
                incident=incident,
                actor=actor_for(request),
                role=role_of(request),
                text=form.cleaned_data["text"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "Note added to the timeline.")
            return redirect("incidents:detail", incident.id)
    return _detail_page(request, incident, form, status=400)
