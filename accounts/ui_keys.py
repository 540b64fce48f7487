"""Screen 14: API keys. List, create (the full key is shown once, in the answer to the
create request, and never again), revoke. Admins and above: the same permission as
``/v1/api-keys``.

The full key lives only in that one response: it is not put in the session, a flash
message or a redirect, which would store it server-side or replay it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.api_keys import api_key_create, api_key_revoke
from accounts.models import ApiKey, ApiScope
from accounts.permissions import Perm, require
from accounts.views import actor_for, org_required, role_of

PAGE_SIZE = 50
SCOPE_HELP: dict[str, str] = {
    ApiScope.READ: "Read monitors, incidents, reports (acts as a viewer).",
    ApiScope.WRITE: "Change configuration and respond to incidents (acts as an admin).",
    ApiScope.INGEST: "Push heartbeats and OS metrics only.",
}


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=120,
        help_text="Where the key is used, e.g. “Terraform CI” or “web-01 metrics agent”.",
    )
    scopes = forms.MultipleChoiceField(
        label="Scopes",
        choices=[(value, f"{label} — {SCOPE_HELP[value]}") for value, label in ApiScope.choices],
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiScope.READ],
    )
    expires_on = forms.DateField(
        label="Expires on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The key stops working at the end of this day (UTC). Empty: never.",
    )

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        return datetime.combine(day, time.max, tzinfo=UTC)

    def apply_errors(self, exc: ValidationError) -> None:
        for key, errors in exc.message_dict.items():
            name = "expires_on" if key == "expires_at" else key
            self.add_error(name if name in self.fields else None, errors)


def _key_for(request: HttpRequest, key_id: uuid.UUID) -> ApiKey:
    """The scoped getter: only this org's keys are found."""
    try:
        return ApiKey.objects.get(id=key_id)
    except ApiKey.DoesNotExist as exc:
        raise Http404("No such API key.") from exc


def _list_page(request: HttpRequest, form: ApiKeyForm, *, status: int = 200) -> HttpResponse:
    keys = ApiKey.objects.select_related("created_by").order_by("-created_at", "-id")
    page = Paginator(keys, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "keys": list(page.object_list),
        "now": timezone.now(),
        "nav_active": "api_keys",
    }
    response = render(request, "accounts/api_keys.html", context, status=status)
    add_never_cache_headers(response)
    return response


@require_GET
@org_required
def api_keys(request: HttpRequest) -> HttpResponse:
    require(role_of(request), Perm.API_KEY_WRITE)
    return _list_page(request, ApiKeyForm())


@require_http_methods(["GET", "POST"])
@org_required
def api_key_create_view(request: HttpRequest) -> HttpResponse:
    require(role_of(request), Perm.API_KEY_WRITE)
    if request.method == "GET":
        return redirect("accounts:api_keys")
    form = ApiKeyForm(request.POST)
    if form.is_valid():
        try:
            key, full_key = api_key_create(
                actor=actor_for(request),
                role=role_of(request),
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=form.expires_at(),
            )
        except ValidationError as exc:
            form.apply_errors(exc)
        else:
            response = render(
                request,
                "accounts/api_keys_created.html",
                {"key": key, "full_key": full_key, "nav_active": "api_keys"},
            )
            # Shown once: no cache (browser or proxy) may keep a copy of this page.
            add_never_cache_headers(response)
            return response
    return _list_page(request, form, status=400)


@require_POST
@org_required
def api_key_revoke_view(request: HttpRequest, key_id: uuid.UUID) -> HttpResponse:
    key = _key_for(request, key_id)
    require(role_of(request), Perm.API_KEY_WRITE)
    api_key_revoke(actor=actor_for(request), role=role_of(request), api_key=key)
    messages.success(request, f"Revoked {key.name}: requests with it are refused from now on.")
    return redirect("accounts:api_keys")
