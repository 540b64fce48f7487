from typing import Any

app_name = "notifications_ui"

urlpatterns: list[Any] = []
