from django.urls import path

from incidents import views

app_name = "incidents"

urlpatterns = [
    path("", views.incident_list, name="list"),
    path("<uuid:incident_id>/", views.incident_detail, name="detail"),
    path("<uuid:incident_id>/acknowledge", views.incident_acknowledge, name="acknowledge"),
    path("<uuid:incident_id>/resolve", views.incident_resolve, name="resolve"),
    path("<uuid:incident_id>/notes", views.incident_note, name="note"),
]
