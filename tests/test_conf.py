"""conf runs with validated values, and reports every problem loudly.

An invalid value is replaced by its safe fallback; the problem goes to stderr
at once (each one once) and to the ``django_reqlog`` logger at the start of
the next request, when the project's handlers are certainly in place.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from django.apps import apps
from django.core import checks
from django.test import override_settings

from django_reqlog import setting_reports
from django_reqlog.conf import conf, derived
from django_reqlog.setting_specs import MAX_BODY_BYTES, SLOW_REQUEST_MS
from tests.helpers.log_capture import KeepRecords, attached


@pytest.fixture(autouse=True)
def _fresh_reports() -> Iterator[None]:
    setting_reports.reset()
    yield
    setting_reports.reset()


def reqlog_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("django-reqlog: ")]


def reports(handler: KeepRecords) -> list[tuple[int, str, str, str]]:
    return [
        (r.levelno, r.getMessage(), r.check_id, r.setting)  # type: ignore[attr-defined]
        for r in handler.records
        if hasattr(r, "check_id")
    ]


@pytest.mark.parametrize(
    ("setting", "raw", "read", "expected"),
    [
        ("REQLOG_SAMPLE_RATE", "abc", lambda: conf.sample_rate, 1.0),
        ("REQLOG_MAX_BODY_BYTES", "8k", lambda: conf.max_body_bytes, MAX_BODY_BYTES.default),
        ("REQLOG_SLOW_REQUEST_MS", "1s", lambda: conf.slow_request_ms, SLOW_REQUEST_MS.default),
        ("REQLOG_SKIP_PATHS", "^/healthz", lambda: derived.skip_path_re, None),
        ("REQLOG_SENSITIVE_FIELDS", "email", lambda: conf.sensitive_fields, ("email",)),
        ("REQLOG_ENABLED", 0, lambda: conf.enabled, True),
        ("REQLOG_CAPTURE_RESPONSE_BODY", "false", lambda: conf.capture_response_body, False),
        ("REQLOG_CAPTURE_REQUEST_BODY", "yes", lambda: conf.capture_request_body, False),
        ("REQLOG_CAPTURE_HEADERS", 1, lambda: conf.capture_headers, False),
        ("REQLOG_TRUSTED_PROXIES", ["10.0.0.0/8", "x"], lambda: derived.trusted_networks, ()),
        (
            "REQLOG_REQUEST_ID_HEADER",
            "X Id",
            lambda: derived.request_id_meta_key,
            "HTTP_X_REQUEST_ID",
        ),
    ],
)
def test_an_invalid_value_reads_as_its_safe_fallback(setting, raw, read, expected):
    with override_settings(**{setting: raw}):
        assert read() == expected


def test_an_entry_that_breaks_the_alternation_leaves_the_others_working():
    with override_settings(REQLOG_SKIP_PATHS=[r"^/a", r"(?i)^/b"]):
        pattern = derived.skip_path_re
        assert pattern is not None and pattern.search("/a/x") and not pattern.search("/b")


def test_a_problem_is_written_to_stderr_at_once_and_once(capsys):
    with override_settings(REQLOG_SAMPLE_RATE="abc"):
        first = reqlog_lines(capsys.readouterr().err)
        with override_settings(REQLOG_SLOW_REQUEST_MS=5):  # validated again, same problem
            assert reqlog_lines(capsys.readouterr().err) == []
        assert reqlog_lines(capsys.readouterr().err) == []
    assert first == [
        "django-reqlog: (django_reqlog.E004) REQLOG_SAMPLE_RATE must be a number between 0.0 "
        "and 1.0, not 'abc'; using 1.0 instead. HINT: 1.0 keeps every request; 0.1 keeps 10% "
        "of successful ones (errors and slow requests are always kept)."
    ]
    with override_settings(REQLOG_SAMPLE_RATE="abc"):  # fixed, then back: reported again
        assert reqlog_lines(capsys.readouterr().err) == first


def test_the_log_record_waits_for_the_next_request(client, capsys):
    with override_settings(REQLOG_SAMPLE_RATE="abc"):
        [line] = reqlog_lines(capsys.readouterr().err)
        # Logging set up after the problem was found, as with LOGGING_CONFIG = None.
        with attached(KeepRecords()) as handler:
            assert handler.records == []
            assert client.get("/hello/").status_code == 200
            assert client.get("/hello/").status_code == 200
    assert reports(handler) == [
        (
            logging.ERROR,
            line.removeprefix("django-reqlog: "),
            "django_reqlog.E004",
            "REQLOG_SAMPLE_RATE",
        )
    ]
    # The events are still written, with the safe sample rate.
    assert [r.getMessage() for r in handler.records if r.levelno == logging.INFO] == [
        "GET /hello/ 200",
        "GET /hello/ 200",
    ]


def test_only_problems_still_there_at_the_request_are_logged(client):
    with override_settings(REQLOG_MAX_BODY_BYTES="8k"):
        pass  # fixed before any request came
    with override_settings(REQLOG_SAMPLE_RATE="abc"), attached(KeepRecords()) as handler:
        client.get("/hello/")
    assert [check_id for _, _, check_id, _ in reports(handler)] == ["django_reqlog.E004"]


def test_a_misspelt_name_is_a_logged_warning(client, capsys):
    with override_settings(REQLOG_SKIP_PATH=[r"^/hello/"]), attached(KeepRecords()) as handler:
        client.get("/hello/")
    [line] = reqlog_lines(capsys.readouterr().err)
    assert "did you mean REQLOG_SKIP_PATHS?" in line
    assert reports(handler) == [
        (
            logging.WARNING,
            line.removeprefix("django-reqlog: "),
            "django_reqlog.W006",
            "REQLOG_SKIP_PATH",
        )
    ]


def test_silenced_check_ids_are_not_reported(client, capsys):
    with (
        override_settings(SILENCED_SYSTEM_CHECKS=["django_reqlog.E004"], REQLOG_SAMPLE_RATE="x"),
        attached(KeepRecords()) as handler,
    ):
        client.get("/hello/")
        assert conf.sample_rate == 1.0  # still replaced, only not reported
    assert (reqlog_lines(capsys.readouterr().err), reports(handler)) == ([], [])


class Exploding(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        raise RuntimeError("filter bug")


def test_a_failure_while_logging_the_report_never_reaches_the_request(client, capsys):
    handler = KeepRecords()
    handler.addFilter(Exploding())
    with override_settings(REQLOG_SAMPLE_RATE="abc"), attached(handler):
        assert client.get("/hello/").content == b"hello world"
    assert "could not log a settings problem: RuntimeError('filter bug')" in capsys.readouterr().err


def test_ready_validates_and_reports(capsys):
    with override_settings(REQLOG_CAPTURE_RESPONSE_BODY="false"):
        setting_reports.reset()
        capsys.readouterr()
        apps.get_app_config("django_reqlog").ready()
        [line] = reqlog_lines(capsys.readouterr().err)
    assert line.startswith(
        "django-reqlog: (django_reqlog.E009) REQLOG_CAPTURE_RESPONSE_BODY must be True or "
        "False, not 'false'; using False instead."
    )


def test_checks_and_runtime_report_in_the_same_words(capsys):
    with override_settings(REQLOG_MAX_BODY_BYTES="8k"):
        [line] = reqlog_lines(capsys.readouterr().err)
        [message] = [m for m in checks.run_checks() if m.id == "django_reqlog.E005"]
    assert line == f"django-reqlog: (django_reqlog.E005) {message.msg} HINT: {message.hint}"
