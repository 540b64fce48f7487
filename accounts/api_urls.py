from django.urls import path

from accounts import api

urlpatterns = [
    path("signup", api.SignupView.as_view(), name="api_auth_signup"),
    path("login", api.LoginView.as_view(), name="api_auth_login"),
    path("logout", api.LogoutView.as_view(), name="api_auth_logout"),
    path("me", api.MeView.as_view(), name="api_auth_me"),
    path("switch-org", api.SwitchOrgView.as_view(), name="api_auth_switch_org"),
]
