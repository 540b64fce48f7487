"""Organization settings (screen 16): the ``org_rename`` service and the settings page
that calls it. Admins and above may rename (``Perm.ORG_WRITE``); every rename is
audited with the old and new name."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.audit import Actor, audit_record
from accounts.models import Organization
from accounts.permissions import Perm, require, role_has
from accounts.views import actor_for, org_required, role_of

NAME_MAX = 120


# ------------------------------------------------------------------ service


def org_rename(*, actor: Actor, role: str | None, org: Organization, name: str) -> Organization:
    """Give the org a new display name (the slug stays: links keep working)."""
    require(role, Perm.ORG_WRITE)
    clean = " ".join(name.split()) if isinstance(name, str) else ""
    if not clean:
        raise ValidationError({"name": ["Enter a name."]})
    if len(clean) > NAME_MAX:
        raise ValidationError({"name": [f"At most {NAME_MAX} characters."]})
    if clean == org.name:
        return org
    before = org.name
    with transaction.atomic():
        Organization.objects.filter(id=org.id).update(name=clean)
        org.name = clean
        audit_record(
            actor=actor,
            action="org.rename",
            org_id=org.id,
            target=org,
            changes={"name": [before, clean]},
        )
    return org


# ------------------------------------------------------------------ page


class OrgRenameForm(forms.Form):
    name = forms.CharField(
        label="Organization name",
        max_length=NAME_MAX,
        help_text="Shown in the app, on e-mails and on notifications.",
    )

    def apply_errors(self, exc: ValidationError) -> None:
        for key, errors in exc.message_dict.items():
            self.add_error(key if key in self.fields else None, errors)


@require_http_methods(["GET", "POST"])
@org_required
def org_settings(request: HttpRequest) -> HttpResponse:
    org = request.membership.org  # type: ignore[attr-defined]
    role = role_of(request)
    if request.method == "POST":
        require(role, Perm.ORG_WRITE)
        form = OrgRenameForm(request.POST)
        if form.is_valid():
            try:
                org_rename(
                    actor=actor_for(request), role=role, org=org, name=form.cleaned_data["name"]
                )
            except ValidationError as exc:
                form.apply_errors(exc)
            else:
                messages.success(request, f"The organization is now called {org.name}.")
                return redirect("accounts:org_settings")
    else:
        form = OrgRenameForm(initial={"name": org.name})
    return render(
        request,
        "accounts/org_settings.html",
        {
            "form": form,
            "org": org,
            "can_edit": role_has(role, Perm.ORG_WRITE),
            "nav_active": "team",
        },
        status=400 if form.errors else 200,
    )
