"""The /v1 API, assembled from each app's api module."""

from django.urls import include, path

urlpatterns = [
    path("auth/", include("accounts.api_urls")),
    path("ingest/", include("ingest.urls")),
]
