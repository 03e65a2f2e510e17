from __future__ import annotations

from django.urls import path

from tests.helpers import integration_views

urlpatterns = [
    path("sync-logs/", integration_views.sync_logs),
    path("async-logs/", integration_views.async_logs),
    path("sends-task/", integration_views.sends_task),
    path("sends-flaky-task/", integration_views.sends_flaky_task),
]
