"""System checks for REQLOG_* settings and middleware placement.

The settings checks print what ``conf`` validated: the same validators, the
same messages, and the same value used in place of an invalid one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from django_reqlog.conf import settings_problems

MIDDLEWARE_PATH = "django_reqlog.middleware.RequestLogMiddleware"
_AUTH_MIDDLEWARES = (
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
)


@register(Tags.compatibility)
def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    return [
        (Error if problem.is_error else Warning)(
            problem.message, hint=problem.hint, id=problem.check_id
        )
        for problem in settings_problems()
    ]


@register(Tags.compatibility)
def check_middleware(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE_PATH not in middleware:
        return [
            Warning(
                f"'{MIDDLEWARE_PATH}' is not in MIDDLEWARE, so no request is logged.",
                hint=f"Add '{MIDDLEWARE_PATH}' to MIDDLEWARE, after AuthenticationMiddleware.",
                id="django_reqlog.W001",
            )
        ]
    ours = middleware.index(MIDDLEWARE_PATH)
    for auth in _AUTH_MIDDLEWARES:
        if auth in middleware and middleware.index(auth) > ours:
            return [
                Warning(
                    f"'{MIDDLEWARE_PATH}' is placed before '{auth}'.",
                    hint="Move it after AuthenticationMiddleware (the documented order), so the "
                    "user is attached to the request by the time the event is built, even when "
                    "a middleware in between returns early.",
                    id="django_reqlog.W004",
                )
            ]
    return []
