"""The /v1 API, assembled from each app's api module.

URL names: ``v1-<resource>-list`` / ``-detail`` and ``v1-<resource>-<action>`` from the
router, plus ``api_schema`` and ``api_docs``.
"""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from accounts.api import ApiKeyViewSet, AuditLogViewSet, InvitationViewSet, MemberViewSet
from alerting.api import AlertRuleViewSet, MaintenanceWindowViewSet
from incidents.api import IncidentViewSet
from monitors.api import MonitorViewSet
from notifications.api import ChannelViewSet, NotificationViewSet
from pulse import api_docs

router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("monitors", MonitorViewSet, basename="v1-monitors")
router.register("incidents", IncidentViewSet, basename="v1-incidents")
router.register("channels", ChannelViewSet, basename="v1-channels")
router.register("alert-rules", AlertRuleViewSet, basename="v1-alert-rules")
router.register("notifications", NotificationViewSet, basename="v1-notifications")
router.register("maintenance-windows", MaintenanceWindowViewSet, basename="v1-maintenance-windows")
router.register("api-keys", ApiKeyViewSet, basename="v1-api-keys")
router.register("members", MemberViewSet, basename="v1-members")
router.register("invitations", InvitationViewSet, basename="v1-invitations")
router.register("audit-logs", AuditLogViewSet, basename="v1-audit-logs")

urlpatterns = [
    path("auth/", include("accounts.api_urls")),
    path("ingest/", include("ingest.urls")),
    path("webhooks/", include("notifications.urls")),
    path("schema", api_docs.schema_view(), name="api_schema"),
    path("docs", api_docs.docs, name="api_docs"),
    *router.urls,
]
