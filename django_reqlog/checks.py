"""System checks for REQLOG_* settings and middleware placement."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string

MIDDLEWARE_PATH = "django_reqlog.middleware.RequestLogMiddleware"
_ID_HEADER = re.compile(r"[A-Za-z0-9-]{1,64}")


def _is_str_sequence(value: object) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


@register(Tags.compatibility)
def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    errors += _check_regexes()
    errors += _check_proxies()
    errors += _check_numbers()
    errors += _check_strings()
    return errors


def _check_regexes() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name, check_id in (
        ("REQLOG_SKIP_PATHS", "django_reqlog.E001"),
        ("REQLOG_SENSITIVE_VALUE_PATTERNS", "django_reqlog.E002"),
    ):
        value = getattr(settings, name, ())
        if not _is_str_sequence(value):
            errors.append(
                Error(
                    f"{name} must be a list or tuple of regular expression strings.",
                    hint=f"For example: {name} = [r'^/healthz$'].",
                    id=check_id,
                )
            )
            continue
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                errors.append(
                    Error(
                        f"{name} contains an invalid regular expression {pattern!r}: {exc}.",
                        hint="Fix or remove the pattern; invalid patterns are ignored at runtime.",
                        id=check_id,
                    )
                )
    return errors


def _check_proxies() -> list[CheckMessage]:
    value = getattr(settings, "REQLOG_TRUSTED_PROXIES", ())
    if not _is_str_sequence(value):
        return [
            Error(
                "REQLOG_TRUSTED_PROXIES must be a list or tuple of IP addresses or CIDR strings.",
                hint="For example: REQLOG_TRUSTED_PROXIES = ['10.0.0.0/8', '::1'].",
                id="django_reqlog.E003",
            )
        ]
    errors: list[CheckMessage] = []
    for entry in value:
        try:
            network = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError as exc:
            errors.append(
                Error(
                    f"REQLOG_TRUSTED_PROXIES contains an invalid address or CIDR {entry!r}: {exc}.",
                    hint="Use addresses like '10.0.0.1' or networks like '10.0.0.0/8'.",
                    id="django_reqlog.E003",
                )
            )
            continue
        if network.prefixlen == 0:
            errors.append(
                Warning(
                    f"REQLOG_TRUSTED_PROXIES contains {entry!r}, which trusts every address.",
                    hint="Any client could then forge its logged IP with X-Forwarded-For; "
                    "list only your proxies' addresses.",
                    id="django_reqlog.W002",
                )
            )
    return errors


def _check_numbers() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    rate = getattr(settings, "REQLOG_SAMPLE_RATE", 1.0)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
        errors.append(
            Error(
                f"REQLOG_SAMPLE_RATE must be a number between 0.0 and 1.0, not {rate!r}.",
                hint="1.0 keeps every request; 0.1 keeps 10% of successful ones "
                "(errors and slow requests are always kept).",
                id="django_reqlog.E004",
            )
        )
    for name, minimum in (("REQLOG_MAX_BODY_BYTES", 0), ("REQLOG_SLOW_REQUEST_MS", 1)):
        value = getattr(settings, name, None)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            errors.append(
                Error(
                    f"{name} must be an integer >= {minimum}, not {value!r}.",
                    hint="See the settings reference in the README.",
                    id="django_reqlog.E005",
                )
            )
    body = getattr(settings, "REQLOG_MAX_BODY_BYTES", 8192)
    if isinstance(body, int) and body > 256 * 1024:
        errors.append(
            Warning(
                f"REQLOG_MAX_BODY_BYTES is {body}; events are capped at 300 KiB, so bodies "
                "beyond about 256 KiB are trimmed when formatted.",
                hint="Keep it at or below 262144.",
                id="django_reqlog.W003",
            )
        )
    return errors


def _check_strings() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    header = getattr(settings, "REQLOG_REQUEST_ID_HEADER", "X-Request-ID")
    if not isinstance(header, str) or not _ID_HEADER.fullmatch(header):
        errors.append(
            Error(
                f"REQLOG_REQUEST_ID_HEADER must be an HTTP header name, not {header!r}.",
                hint="For example 'X-Request-ID' or 'X-Correlation-ID'.",
                id="django_reqlog.E006",
            )
        )
    fields = getattr(settings, "REQLOG_SENSITIVE_FIELDS", ())
    if not _is_str_sequence(fields):
        errors.append(
            Error(
                "REQLOG_SENSITIVE_FIELDS must be a list or tuple of key names.",
                hint="For example: REQLOG_SENSITIVE_FIELDS = ['ssn', 'iban'].",
                id="django_reqlog.E007",
            )
        )
    callback = getattr(settings, "REQLOG_REDACT_CALLBACK", None)
    if callback is not None:
        problem = None
        if not isinstance(callback, str):
            problem = "must be a dotted path string"
        else:
            try:
                func = import_string(callback)
            except ImportError as exc:
                problem = f"cannot be imported ({exc})"
            else:
                if not callable(func):
                    problem = "is not callable"
        if problem:
            errors.append(
                Error(
                    f"REQLOG_REDACT_CALLBACK {problem}: {callback!r}.",
                    hint="Point it at a function taking the event dict and returning it, "
                    "e.g. 'myproject.logging.redact'.",
                    id="django_reqlog.E008",
                )
            )
    return errors


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
