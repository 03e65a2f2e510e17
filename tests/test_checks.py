"""Every system check ID, and lazily-read settings."""

from __future__ import annotations

import pytest
from django.core import checks
from django.test import override_settings

from django_reqlog.conf import conf, derived

GOOD_MIDDLEWARE = [
    "django_reqlog.middleware.RequestLogMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]


def _ids() -> list[str]:
    return sorted(m.id for m in checks.run_checks() if m.id and m.id.startswith("django_reqlog"))


def redact_ok(event: dict) -> dict:
    return event


NOT_CALLABLE = 42


def test_default_configuration_is_clean():
    assert _ids() == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"REQLOG_SKIP_PATHS": ["(unclosed"]}, "django_reqlog.E001"),
        ({"REQLOG_SKIP_PATHS": "^/health$"}, "django_reqlog.E001"),
        ({"REQLOG_SENSITIVE_VALUE_PATTERNS": ["[z-a]"]}, "django_reqlog.E002"),
        ({"REQLOG_TRUSTED_PROXIES": ["10.0.0.0/33"]}, "django_reqlog.E003"),
        ({"REQLOG_TRUSTED_PROXIES": ["not-an-ip"]}, "django_reqlog.E003"),
        ({"REQLOG_TRUSTED_PROXIES": "10.0.0.1"}, "django_reqlog.E003"),
        ({"REQLOG_TRUSTED_PROXIES": ["0.0.0.0/0"]}, "django_reqlog.W002"),
        ({"REQLOG_SAMPLE_RATE": 1.5}, "django_reqlog.E004"),
        ({"REQLOG_SAMPLE_RATE": "half"}, "django_reqlog.E004"),
        ({"REQLOG_MAX_BODY_BYTES": -1}, "django_reqlog.E005"),
        ({"REQLOG_SLOW_REQUEST_MS": 0}, "django_reqlog.E005"),
        ({"REQLOG_MAX_BODY_BYTES": 10_000_000}, "django_reqlog.W003"),
        ({"REQLOG_REQUEST_ID_HEADER": "X Request Id"}, "django_reqlog.E006"),
        ({"REQLOG_SENSITIVE_FIELDS": "ssn"}, "django_reqlog.E007"),
        ({"REQLOG_REDACT_CALLBACK": "no.such.module"}, "django_reqlog.E008"),
        ({"REQLOG_REDACT_CALLBACK": "tests.test_checks.NOT_CALLABLE"}, "django_reqlog.E008"),
        ({"REQLOG_SKIP_PATHS": [r"^/a", r"(?i)^/b"]}, "django_reqlog.E001"),
        ({"REQLOG_REDACT_CALLBACK": "tests.helpers.broken_module.redact"}, "django_reqlog.E008"),
        ({"REQLOG_ENABLED": "no"}, "django_reqlog.E009"),
        ({"REQLOG_CAPTURE_RESPONSE_BODY": "false"}, "django_reqlog.E009"),
        ({"REQLOG_CAPTURE_REQUEST_BODY": 0}, "django_reqlog.E009"),
        ({"REQLOG_CAPTURE_HEADERS": "yes"}, "django_reqlog.E009"),
        ({"REQLOG_SENSITIVE_FEILDS": ["ssn"]}, "django_reqlog.W006"),
        ({"MIDDLEWARE": GOOD_MIDDLEWARE[1:]}, "django_reqlog.W001"),
        ({"MIDDLEWARE": [*GOOD_MIDDLEWARE[1:], GOOD_MIDDLEWARE[0]]}, "django_reqlog.W005"),
        (
            {"MIDDLEWARE": [GOOD_MIDDLEWARE[1], GOOD_MIDDLEWARE[0], GOOD_MIDDLEWARE[2]]},
            "django_reqlog.W005",
        ),
    ],
)
def test_each_check_id(overrides, expected):
    with override_settings(**overrides):
        messages = [m for m in checks.run_checks() if m.id == expected]
    assert len(messages) == 1
    assert messages[0].hint


def test_a_misspelt_name_gets_the_nearest_setting_as_hint():
    with override_settings(REQLOG_SAMPEL_RATE=0.5):
        [message] = [m for m in checks.run_checks() if m.id == "django_reqlog.W006"]
    assert message.msg.endswith("did you mean REQLOG_SAMPLE_RATE?")
    assert message.hint == "Rename it to REQLOG_SAMPLE_RATE."


def test_valid_settings_pass():
    with override_settings(
        REQLOG_SKIP_PATHS=[r"^/static/"],
        REQLOG_TRUSTED_PROXIES=["10.0.0.0/8", "::1", "fd00::/8"],
        REQLOG_SAMPLE_RATE=0.25,
        REQLOG_REDACT_CALLBACK="tests.test_checks.redact_ok",
        MIDDLEWARE=GOOD_MIDDLEWARE,
    ):
        assert _ids() == []


def test_settings_are_read_lazily_and_caches_invalidate():
    assert conf.max_body_bytes == 8192
    assert derived.skip_path_re is None
    with override_settings(REQLOG_MAX_BODY_BYTES=10, REQLOG_SKIP_PATHS=[r"^/a", r"^/b"]):
        assert conf.max_body_bytes == 10
        pattern = derived.skip_path_re
        assert pattern is not None and pattern.search("/b/x") and not pattern.search("/c")
    assert derived.skip_path_re is None
    with override_settings(REQLOG_TRUSTED_PROXIES=["10.0.0.0/8"]):
        assert [str(n) for n in derived.trusted_networks] == ["10.0.0.0/8"]
    assert derived.trusted_networks == ()


def test_the_position_check_asks_for_the_top() -> None:
    with override_settings(MIDDLEWARE=[*GOOD_MIDDLEWARE[1:], GOOD_MIDDLEWARE[0]]):
        (message,) = [m for m in checks.run_checks() if m.id == "django_reqlog.W005"]
    assert "first entry of MIDDLEWARE" in message.msg
    assert "Move it to the top" in (message.hint or "")
    with override_settings(MIDDLEWARE=GOOD_MIDDLEWARE):
        assert _ids() == []
