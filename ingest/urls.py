from django.urls import path

from ingest import api, views

urlpatterns = [
    path("metrics", api.MetricsIngestView.as_view(), name="ingest_metrics"),
    path("heartbeat/<str:token>", views.heartbeat, name="ingest_heartbeat"),
    path(
        "heartbeat/<str:token>/start",
        views.heartbeat,
        {"kind": "start"},
        name="ingest_heartbeat_start",
    ),
    path(
        "heartbeat/<str:token>/fail",
        views.heartbeat,
        {"kind": "fail"},
        name="ingest_heartbeat_fail",
    ),
]
