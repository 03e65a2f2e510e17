"""URLs for tests/helpers/privacy_views.py, used with ``override_settings(ROOT_URLCONF=...)``."""

from __future__ import annotations

from django.urls import path

from tests.helpers import privacy_views as views

urlpatterns = [
    path("echo/", views.echo, name="p-echo"),
    path("raw/", views.raw, name="p-raw"),
    path("stream/", views.streaming, name="p-stream"),
    path("file/", views.file_response, name="p-file"),
    path("raise/", views.raising, name="p-raise"),
    path("gzip/", views.gzip_echo, name="p-gzip"),
    path("drf/", views.drf, name="p-drf"),
    path("reflect/", views.secret_response, name="p-reflect"),
]
