from django.contrib import admin
from django.urls import include, path

from pulse import errors, health, metrics, views

handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error

urlpatterns = [
    path("", views.landing, name="landing"),
    path("app/", views.dashboard, name="dashboard"),
    path("", include("accounts.urls")),
    path("monitors/", include("monitors.urls")),
    path("incidents/", include("incidents.urls")),
    path("alerts/", include("alerting.urls")),
    path("notify/", include("notifications.ui_urls")),
    path("hosts/", include("ingest.ui_urls")),
    path("api/health", health.health, name="health"),
    path("health", health.health, name="health_alias"),
    path("health/ready", health.ready, name="health_ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("v1/", include("pulse.api_urls")),
    path("support/", admin.site.urls),
]
