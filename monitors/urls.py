from django.urls import path

from monitors import views

app_name = "monitors"

urlpatterns = [
    path("", views.monitor_list, name="list"),
    path("new", views.monitor_create, name="create"),
    path("bulk", views.monitor_bulk, name="bulk"),
    path("<uuid:monitor_id>/", views.monitor_detail, name="detail"),
    path("<uuid:monitor_id>/edit", views.monitor_edit, name="edit"),
    path("<uuid:monitor_id>/delete", views.monitor_delete, name="delete"),
    path("<uuid:monitor_id>/pause", views.monitor_pause, name="pause"),
    path("<uuid:monitor_id>/resume", views.monitor_resume, name="resume"),
    path("<uuid:monitor_id>/token", views.monitor_regenerate_token, name="regenerate_token"),
]
