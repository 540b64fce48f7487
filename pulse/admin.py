"""Base classes for the support admin. It spans orgs, so it works on the system alias
(the role that may cross orgs) and audits every add, change and delete."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models, transaction
from django.forms import ModelForm
from django.http import HttpRequest

from pulse.db import SYSTEM_DB

admin.site.site_header = "Pulse support"
admin.site.site_title = "Pulse support"
admin.site.index_title = "Across all organizations"


def _org_of(obj: models.Model) -> Any:
    if obj.__class__.__name__ == "Organization":
        return obj.pk
    return getattr(obj, "org_id", None)


def _audit(request: HttpRequest, obj: models.Model, action: str, changes: dict[str, Any]) -> None:
    from accounts.audit import Actor, audit_record

    user = request.user if getattr(request.user, "is_authenticated", False) else None
    audit_record(
        actor=Actor(user=user, label="support-admin"),  # type: ignore[arg-type]
        action=f"admin.{action}",
        org_id=_org_of(obj),
        target=obj,
        changes=changes,
        using=SYSTEM_DB,
    )


class AuditedAdmin(admin.ModelAdmin):
    using = SYSTEM_DB

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        # The tenant manager would refuse (no org in context): support staff read
        # through the cross-org manager on the system alias.
        manager = getattr(self.model, "all_orgs", None) or self.model._default_manager
        queryset = manager.get_queryset().using(self.using)
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        changes = {name: form.cleaned_data.get(name) for name in form.changed_data}
        changes = {
            k: v if isinstance(v, str | int | bool | None) else str(v) for k, v in changes.items()
        }
        with transaction.atomic(using=self.using):
            obj.save(using=self.using)
            _audit(request, obj, "change" if change else "add", changes)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic(using=self.using):
            _audit(request, obj, "delete", {})
            obj.delete(using=self.using)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        with transaction.atomic(using=self.using):
            for obj in queryset:
                _audit(request, obj, "delete", {})
                obj.delete(using=self.using)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        return super().formfield_for_foreignkey(db_field, request, using=self.using, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        return super().formfield_for_manytomany(db_field, request, using=self.using, **kwargs)


class ReadOnlyAdmin(AuditedAdmin):
    """For append-only records: browse and search, never change."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
