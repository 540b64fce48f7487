from django.urls import path

from accounts import org_settings, ui_audit, ui_keys, views

app_name = "accounts"

urlpatterns = [
    path("signup", views.signup, name="signup"),
    path("login", views.login_view, name="login"),
    path("logout", views.logout_view, name="logout"),
    path("password-reset", views.password_reset, name="password_reset"),
    path("password-reset/sent", views.password_reset_done, name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>",
        views.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path("invitations/<str:token>", views.invitation_accept, name="invitation_accept"),
    path("orgs/switch", views.org_switch, name="org_switch"),
    path("orgs/new", views.org_create, name="org_create"),
    path("settings/team", views.team, name="team"),
    path("settings/team/<uuid:membership_id>/role", views.member_role, name="member_role"),
    path("settings/team/<uuid:membership_id>/remove", views.member_remove, name="member_remove"),
    path(
        "settings/invitations/<uuid:invitation_id>/revoke",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("settings/sessions", views.sessions, name="sessions"),
    # Screens 14-16: API keys, audit log, organization settings.
    path("settings/api-keys", ui_keys.api_keys, name="api_keys"),
    path("settings/api-keys/new", ui_keys.api_key_create_view, name="api_key_create"),
    path(
        "settings/api-keys/<uuid:key_id>/revoke",
        ui_keys.api_key_revoke_view,
        name="api_key_revoke",
    ),
    path("settings/audit", ui_audit.audit_log, name="audit_log"),
    path("settings/org", org_settings.org_settings, name="org_settings"),
]
