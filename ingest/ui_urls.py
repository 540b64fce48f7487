from django.urls import path

from ingest import views

app_name = "ingest_ui"

urlpatterns = [
    path("", views.hosts, name="hosts"),
    path("<uuid:host_id>/", views.host_detail, name="host_detail"),
]
