from typing import Any

app_name = "alerting"

urlpatterns: list[Any] = []
