from __future__ import annotations

from django.apps import AppConfig
from django.core.signals import got_request_exception
from django.test.signals import setting_changed


class ReqlogConfig(AppConfig):
    name = "django_reqlog"
    verbose_name = "django-reqlog"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from django_reqlog import checks  # noqa: F401  (registers the checks)
        from django_reqlog.conf import clear_caches, validate
        from django_reqlog.middleware import remember_exception

        setting_changed.connect(clear_caches, dispatch_uid="django_reqlog.clear_caches")
        got_request_exception.connect(remember_exception, dispatch_uid="django_reqlog.exc")
        # gunicorn and uvicorn run no system checks: validate (and report) now.
        validate()
