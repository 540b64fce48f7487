"""Provider webhooks, included under ``/v1/webhooks/``."""

from django.urls import path

from notifications import views

urlpatterns = [
    path("twilio/status", views.twilio_status_callback, name="twilio_status_callback"),
]
