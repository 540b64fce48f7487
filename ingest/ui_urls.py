from typing import Any

app_name = "ingest_ui"

urlpatterns: list[Any] = []
