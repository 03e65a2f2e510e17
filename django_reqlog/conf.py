"""Lazily read ``REQLOG_*`` settings, one typed property each.

Every value is validated through its row in ``setting_specs`` (the one place
its default is written) and an invalid one is replaced by the row's safe
fallback, so a typo never reaches the request path. Values are read on first
use after a change, never at import, which keeps ``override_settings``
working; they and the values derived from them (compiled regexes, networks,
imported callables) are cached and dropped on ``setting_changed``.

Validation also reports: once at startup (``AppConfig.ready``) and on every
change, each problem goes to stderr and to the ``django_reqlog`` logger
(``setting_reports``), because gunicorn and uvicorn run no system checks.
"""

from __future__ import annotations

import ipaddress
import os
import re
import threading
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any, TypeVar, cast

from django.conf import settings
from django.utils.module_loading import import_string

from django_reqlog import setting_reports, setting_specs
from django_reqlog.setting_specs import KNOWN_NAMES, SPECS, Spec
from django_reqlog.validation import Checked, Problem, joined_pattern, unknown_names

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
RedactCallback = Callable[[dict[str, Any]], dict[str, Any]]
T = TypeVar("T")

_UNSET = object()


def _checked(spec: Spec[T]) -> Checked[T]:
    raw = getattr(settings, spec.name, _UNSET)
    return Checked(spec.default) if raw is _UNSET else spec.validate(raw)


def settings_problems() -> list[Problem]:
    """Everything wrong with the ``REQLOG_*`` settings now (the system checks)."""
    return _validate_all()[1]


def _validate_all() -> tuple[dict[str, object], list[Problem]]:
    values: dict[str, object] = {}
    problems: list[Problem] = []
    for spec in SPECS:
        checked = _checked(spec)
        values[spec.name] = checked.value
        problems.extend(checked.problems)
    problems.extend(unknown_names(dir(settings), KNOWN_NAMES))
    return values, problems


class _Values:
    """The validated values of the configuration in effect, by setting name."""

    def __init__(self) -> None:
        self.by_name: dict[str, object] = {}
        self.lock = threading.RLock()
        self.validating = False


_values = _Values()


def validate() -> None:
    """Validate every setting, keep the values and report the problems.

    Called by ``AppConfig.ready``, on ``setting_changed`` and on the first
    read, so the report is made even when the app is not installed."""
    with _values.lock:
        _values.validating = True
        try:
            by_name, problems = _validate_all()
        finally:
            _values.validating = False
        _values.by_name = by_name
    silenced = getattr(settings, "SILENCED_SYSTEM_CHECKS", ())
    setting_reports.report(problems, silenced)


def _value(spec: Spec[T]) -> T:
    try:
        return cast(T, _values.by_name[spec.name])
    except KeyError:
        pass
    with _values.lock:
        if spec.name not in _values.by_name:
            if _values.validating:
                # Read while validating (the redact callback's module, say):
                # this one setting, without reporting.
                return _checked(spec).value
            validate()
        return cast(T, _values.by_name[spec.name])


class Settings:
    """The package's settings; defaults and fallbacks are in ``setting_specs``."""

    @property
    def enabled(self) -> bool:
        return _value(setting_specs.ENABLED)

    @property
    def max_body_bytes(self) -> int:
        return _value(setting_specs.MAX_BODY_BYTES)

    @property
    def capture_request_body(self) -> bool:
        return _value(setting_specs.CAPTURE_REQUEST_BODY)

    @property
    def capture_response_body(self) -> bool:
        return _value(setting_specs.CAPTURE_RESPONSE_BODY)

    @property
    def capture_headers(self) -> bool:
        return _value(setting_specs.CAPTURE_HEADERS)

    @property
    def sensitive_fields(self) -> Sequence[str]:
        return _value(setting_specs.SENSITIVE_FIELDS)

    @property
    def sensitive_value_patterns(self) -> Sequence[str]:
        return _value(setting_specs.SENSITIVE_VALUE_PATTERNS)

    @property
    def redact_callback(self) -> str | None:
        return _value(setting_specs.REDACT_CALLBACK)

    @property
    def trusted_proxies(self) -> Sequence[str]:
        return _value(setting_specs.TRUSTED_PROXIES)

    @property
    def request_id_header(self) -> str:
        return _value(setting_specs.REQUEST_ID_HEADER)

    @property
    def skip_paths(self) -> Sequence[str]:
        return _value(setting_specs.SKIP_PATHS)

    @property
    def sample_rate(self) -> float:
        return _value(setting_specs.SAMPLE_RATE)

    @property
    def slow_request_ms(self) -> int:
        return _value(setting_specs.SLOW_REQUEST_MS)

    @property
    def capture_db(self) -> bool:
        return _value(setting_specs.CAPTURE_DB)

    @property
    def capture_db_sql(self) -> bool:
        return _value(setting_specs.CAPTURE_DB_SQL)

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
    """Values built from the validated settings on first use, dropped on change."""

    @cached_property
    def skip_path_re(self) -> re.Pattern[str] | None:
        patterns = conf.skip_paths
        return re.compile(joined_pattern(patterns)) if patterns else None

    @cached_property
    def trusted_networks(self) -> tuple[IPNetwork, ...]:
        return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in conf.trusted_proxies)

    @cached_property
    def redact_callback(self) -> RedactCallback | None:
        path = conf.redact_callback
        if not path:
            return None
        try:
            func: RedactCallback = import_string(path)
        except ImportError:  # validated, but the module may have gone since
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
    """``setting_changed`` receiver; connected in ``AppConfig.ready``.

    Drops every cache, then validates the new configuration at once, so a
    bad value set by ``override_settings`` is reported even if nothing
    reads it."""
    if setting.startswith("REQLOG_"):
        _values.by_name = {}
        for func in _CLEARERS:
            func()
        validate()
