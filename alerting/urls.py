"""Screen 11, mounted at ``/alerts/``: alert rules and maintenance windows."""

from django.urls import path

from alerting import views

app_name = "alerting"

urlpatterns = [
    path("rules/", views.rule_list, name="rule_list"),
    path("rules/new", views.rule_create, name="rule_create"),
    path("rules/<uuid:rule_id>/edit", views.rule_edit, name="rule_edit"),
    path("rules/<uuid:rule_id>/delete", views.rule_delete, name="rule_delete"),
    path("maintenance/", views.maintenance_list, name="maintenance_list"),
    path("maintenance/new", views.maintenance_create, name="maintenance_create"),
    path(
        "maintenance/<uuid:window_id>/delete",
        views.maintenance_delete,
        name="maintenance_delete",
    ),
]
