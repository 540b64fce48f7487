from typing import Any

app_name = "monitors"

urlpatterns: list[Any] = []
