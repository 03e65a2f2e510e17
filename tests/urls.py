from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from tests import views

urlpatterns = [
    path("echo/", views.echo, name="echo"),
    path("form/", views.form_echo, name="form"),
    path("ignore/", views.ignore_body, name="ignore"),
    path("sensitive/", views.sensitive, name="sensitive"),
    path("hello/<str:name>/", views.hello, name="hello"),
    path("hello/", views.hello, name="hello-default"),
    path("missing/", views.not_found, name="missing"),
    path("boom/", views.boom, name="boom"),
    path("json-secret/", views.json_secret, name="json-secret"),
    path("stream/", views.stream, name="stream"),
    path("file/", views.file_download, name="file"),
    path("async/", views.async_hello, name="async-hello"),
    path("async-stream/", views.async_stream, name="async-stream"),
    path("async-boom/", views.async_boom, name="async-boom"),
    path("api/echo/", views.drf_echo, name="drf-echo"),
    path("healthz", views.hello, name="healthz"),
    path("limited/", views.too_many, name="limited"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="/hello/"), name="logout"),
    path("app/login/", views.login_and_restore, name="app-login"),
    # Secrets in paths, as Django's auth views and django-allauth route them.
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    re_path(
        r"^accounts/password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$",
        views.route_echo,
        name="account_reset_password_from_key",
    ),
    path("accounts/confirm-email/<str:key>/", views.route_echo, name="account_confirm_email"),
    path("accounts/google/login/callback/", views.route_echo, name="google_callback"),
    re_path(
        r"^api/(?P<version>v\d+)/",
        include([path("signed/<slug:signature>/<int:pk>/", views.route_echo, name="signed")]),
    ),
]
