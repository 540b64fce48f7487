"""Migration operations for tenancy. Every tenant table gets RLS through ``EnableRLS``;
the catalogue test in tests/ checks that none was forgotten."""

from __future__ import annotations

from typing import Any

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import ProjectState

CURRENT_ORG = "NULLIF(current_setting('app.current_org', true), '')::uuid"
CURRENT_USER = "NULLIF(current_setting('app.current_user', true), '')::uuid"


class EnableRLS(migrations.operations.base.Operation):
    """ENABLE and FORCE row-level security on a model's table with the org policy.

    ``extra_select_using`` adds a second, SELECT-only permissive policy (for example a
    user seeing their own memberships in every org, for the org switcher).
    """

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, extra_select_using: str | None = None) -> None:
        self.model_name = model_name
        self.extra_select_using = extra_select_using

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass

    def _table(self, app_label: str, state: ProjectState) -> str:
        model = state.apps.get_model(app_label, self.model_name)
        return str(model._meta.db_table)

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        table = schema_editor.quote_name(self._table(app_label, to_state))
        schema_editor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        schema_editor.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (org_id = {CURRENT_ORG}) WITH CHECK (org_id = {CURRENT_ORG})"
        )
        if self.extra_select_using:
            schema_editor.execute(
                f"CREATE POLICY tenant_extra_select ON {table} FOR SELECT "
                f"USING ({self.extra_select_using})"
            )

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        table = schema_editor.quote_name(self._table(app_label, from_state))
        schema_editor.execute(f"DROP POLICY IF EXISTS tenant_extra_select ON {table}")
        schema_editor.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        schema_editor.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

    def describe(self) -> str:
        return f"Enable row-level security on {self.model_name}"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        kwargs: dict[str, Any] = {"model_name": self.model_name}
        if self.extra_select_using:
            kwargs["extra_select_using"] = self.extra_select_using
        return (self.__class__.__qualname__, [], kwargs)
