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
                hint=f"Add '{MIDDLEWARE_PATH}' at the top of MIDDLEWARE.",
                id="django_reqlog.W001",
            )
        ]
    if middleware[0] != MIDDLEWARE_PATH:
        return [
            Warning(
                f"'{MIDDLEWARE_PATH}' is not the first entry of MIDDLEWARE.",
                hint="Move it to the top. Middleware above it can answer or change the "
                "response without it seeing (an APPEND_SLASH redirect is logged as the 404 "
                "it replaced, a rejected Host header as nothing at all), its duration leaves "
                "their time out, and a body they read first is not captured. The user is "
                "read once the response exists, so it need not sit below "
                "AuthenticationMiddleware.",
                id="django_reqlog.W005",
            )
        ]
    return []
