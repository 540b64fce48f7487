"""Base classes for tenant models.

``Model.objects`` filters by the organization in context and raises without one.
``Model.all_orgs`` is the one greppable escape for system code (scheduler, outbox
relay, admin): it reads and writes through the ``system`` alias, whose role may
cross organizations. ``tests/test_invariants.py`` lists every module that uses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models

from pulse import tenancy
from pulse.db import SYSTEM_DB
from pulse.lib.ids import uuid7

_M = TypeVar("_M", bound=models.Model)


class TenantQuerySet(models.QuerySet[_M]):
    pass


class TenantManager(models.Manager[_M]):
    """Fails closed: no organization in context is an error, never all rows."""

    def get_queryset(self) -> models.QuerySet[_M]:
        org_id = tenancy.require_org_id()
        return super().get_queryset().filter(org_id=org_id)

    def create(self, **kwargs: Any) -> _M:
        if "org" not in kwargs and "org_id" not in kwargs:
            kwargs["org_id"] = tenancy.require_org_id()
        return super().create(**kwargs)


class AllOrgsManager(models.Manager[_M]):
    """Cross-organization access for system code, on the ``system`` alias."""

    def get_queryset(self) -> models.QuerySet[_M]:
        return super().get_queryset().using(SYSTEM_DB)


class TenantModel(models.Model):
    """A row that belongs to one organization; RLS applies to its table."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    org = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+", db_index=True
    )

    objects: TenantManager[Any] = TenantManager()
    all_orgs: AllOrgsManager[Any] = AllOrgsManager()

    if TYPE_CHECKING:
        org_id: Any

    class Meta:
        abstract = True
        # Django's own machinery (related lookups, deletion) uses a plain base
        # manager; RLS still confines it to the org set on the transaction.
        default_manager_name = "objects"
