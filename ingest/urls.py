from django.urls import path

from ingest import views

urlpatterns = [
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
