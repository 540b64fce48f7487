"""Screen 10, mounted at ``/notify/``: channels and the delivery log."""

from django.urls import path

from notifications import ui_views

app_name = "notifications_ui"

urlpatterns = [
    path("channels/", ui_views.channel_list, name="channel_list"),
    path("channels/new", ui_views.channel_create, name="channel_create"),
    path("channels/<uuid:channel_id>/", ui_views.channel_detail, name="channel_detail"),
    path("channels/<uuid:channel_id>/edit", ui_views.channel_edit, name="channel_edit"),
    path("channels/<uuid:channel_id>/delete", ui_views.channel_delete, name="channel_delete"),
    path("channels/<uuid:channel_id>/test", ui_views.channel_test, name="channel_test"),
    path("channels/<uuid:channel_id>/toggle", ui_views.channel_toggle, name="channel_toggle"),
    path("deliveries/", ui_views.delivery_list, name="delivery_list"),
    path(
        "deliveries/<uuid:notification_id>/retry",
        ui_views.delivery_retry,
        name="delivery_retry",
    ),
    path("deliveries/retry-dead", ui_views.delivery_retry_dead, name="delivery_retry_dead"),
]
