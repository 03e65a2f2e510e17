"""Lazily read ``REQLOG_*`` settings, one typed property each.

Reading at use time (never at import) keeps ``override_settings`` working.
Derived values that are costly to build (compiled regexes, networks,
imported callables) are cached and dropped on ``setting_changed``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
RedactCallback = Callable[[dict[str, Any]], dict[str, Any]]


class Settings:
    """The package's settings, with the defaults documented in the README."""

    @property
    def enabled(self) -> bool:
        return bool(getattr(settings, "REQLOG_ENABLED", True))

    @property
    def max_body_bytes(self) -> int:
        return int(getattr(settings, "REQLOG_MAX_BODY_BYTES", 8192))

    @property
    def capture_request_body(self) -> bool:
        return bool(getattr(settings, "REQLOG_CAPTURE_REQUEST_BODY", True))

    @property
    def capture_response_body(self) -> bool:
        return bool(getattr(settings, "REQLOG_CAPTURE_RESPONSE_BODY", False))

    @property
    def capture_headers(self) -> bool:
        return bool(getattr(settings, "REQLOG_CAPTURE_HEADERS", False))

    @property
    def sensitive_fields(self) -> Sequence[str]:
        return tuple(getattr(settings, "REQLOG_SENSITIVE_FIELDS", ()))

    @property
    def sensitive_value_patterns(self) -> Sequence[str]:
        return tuple(getattr(settings, "REQLOG_SENSITIVE_VALUE_PATTERNS", ()))

    @property
    def redact_callback(self) -> str | None:
        value: str | None = getattr(settings, "REQLOG_REDACT_CALLBACK", None)
        return value

    @property
    def trusted_proxies(self) -> Sequence[str]:
        return tuple(getattr(settings, "REQLOG_TRUSTED_PROXIES", ()))

    @property
    def request_id_header(self) -> str:
        return str(getattr(settings, "REQLOG_REQUEST_ID_HEADER", "X-Request-ID"))

    @property
    def skip_paths(self) -> Sequence[str]:
        return tuple(getattr(settings, "REQLOG_SKIP_PATHS", ()))

    @property
    def sample_rate(self) -> float:
        return float(getattr(settings, "REQLOG_SAMPLE_RATE", 1.0))

    @property
    def slow_request_ms(self) -> int:
        return int(getattr(settings, "REQLOG_SLOW_REQUEST_MS", 1000))

    # Connection settings for the management commands (reqlog_setup,
    # reqlog_check, reqlog_report --elasticsearch). Each falls back to the
    # environment variable of the same name, so a compose stack or CI job can
    # configure the commands without editing settings.

    @property
    def elasticsearch_url(self) -> str | None:
        return _setting_or_env("REQLOG_ELASTICSEARCH_URL")

    @property
    def elasticsearch_username(self) -> str | None:
        return _setting_or_env("REQLOG_ELASTICSEARCH_USERNAME")

    @property
    def elasticsearch_password(self) -> str | None:
        return _setting_or_env("REQLOG_ELASTICSEARCH_PASSWORD")

    @property
    def elasticsearch_api_key(self) -> str | None:
        return _setting_or_env("REQLOG_ELASTICSEARCH_API_KEY")

    @property
    def elasticsearch_ca_certs(self) -> str | None:
        return _setting_or_env("REQLOG_ELASTICSEARCH_CA_CERTS")

    @property
    def elasticsearch_index(self) -> str | None:
        return _setting_or_env("REQLOG_ELASTICSEARCH_INDEX")

    @property
    def elasticsearch_namespace(self) -> str:
        return _setting_or_env("REQLOG_ELASTICSEARCH_NAMESPACE") or "default"

    @property
    def elasticsearch_mode(self) -> str:
        return _setting_or_env("REQLOG_ELASTICSEARCH_MODE") or "auto"

    @property
    def elasticsearch_retention_days(self) -> int:
        return int(_setting_or_env("REQLOG_ELASTICSEARCH_RETENTION_DAYS") or 30)

    @property
    def kibana_url(self) -> str | None:
        return _setting_or_env("REQLOG_KIBANA_URL")


def _setting_or_env(name: str) -> str | None:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name)
    return None if value in (None, "") else str(value)


conf = Settings()


class _Derived:
    """Values derived from settings, built on first use and cleared on change.

    Invalid entries are ignored here; system checks report them, so a typo in
    settings never turns into an exception inside a user's request.
    """

    @cached_property
    def skip_path_re(self) -> re.Pattern[str] | None:
        parts = [p for p in conf.skip_paths if _compiles(p)]
        return re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None

    @cached_property
    def trusted_networks(self) -> tuple[IPNetwork, ...]:
        networks = []
        for entry in conf.trusted_proxies:
            try:
                networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
            except ValueError:
                continue
        return tuple(networks)

    @cached_property
    def redact_callback(self) -> RedactCallback | None:
        path = conf.redact_callback
        if not path:
            return None
        try:
            func: RedactCallback = import_string(path)
        except ImportError:
            return None
        return func

    @cached_property
    def request_id_meta_key(self) -> str:
        return "HTTP_" + conf.request_id_header.upper().replace("-", "_")

    def clear(self) -> None:
        for name in ("skip_path_re", "trusted_networks", "redact_callback", "request_id_meta_key"):
            self.__dict__.pop(name, None)


derived = _Derived()

_CLEARERS: list[Callable[[], None]] = [derived.clear]


def register_cache_clearer(func: Callable[[], None]) -> None:
    """Let other modules drop their caches when any ``REQLOG_*`` setting changes."""
    _CLEARERS.append(func)


def clear_caches(*, setting: str, **kwargs: Any) -> None:
    """``setting_changed`` receiver; connected in ``AppConfig.ready``."""
    if setting.startswith("REQLOG_"):
        for func in _CLEARERS:
            func()


def _compiles(pattern: object) -> bool:
    try:
        re.compile(str(pattern))
    except re.error:
        return False
    return True
