"""A bad setting is never silent, under any server (issue 14, item 3).

gunicorn and uvicorn run no system checks. Each case starts a real server
with one bad ``REQLOG_*`` value and asserts on the report (one stderr line,
one record on the ``django_reqlog`` logger, in the same words) and on the
events: still written, with the safe value in effect.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from django_reqlog.setting_specs import MAX_BODY_BYTES
from tests.helpers.servers import Call, ServerRun, serve

SMALL = {"email": "ann@example.com", "name": "Ann", "note": "ref ACME-1234", "password": "pw-1"}
BIG = json.dumps({"note": "x" * 10_000}).encode()
CALLS = [
    Call(
        "POST",
        "/echo/?case=small",
        json.dumps(SMALL).encode(),
        {
            "Content-Type": "application/json",
            "X-Forwarded-For": "203.0.113.9",
            "X-Custom-Header": "kept",
        },
    ),
    Call("POST", "/echo/?case=big", BIG, {"Content-Type": "application/json"}),
    Call("GET", "/healthz"),
]


def small(run: ServerRun) -> dict[str, Any]:
    return run.request("/echo/?case=small")


def small_body(run: ServerRun) -> dict[str, Any]:
    return json.loads(small(run)["http"]["request"]["body"]["content"])


def every_event_kept(run: ServerRun) -> None:
    assert sorted(doc["url"]["original"] for doc in run.requests()) == [
        "/echo/?case=big",
        "/echo/?case=small",
        "/healthz",
    ]


def body_capped_at_the_default(run: ServerRun) -> None:
    body = run.request("/echo/?case=big")["http"]["request"]["body"]
    assert (len(body["content"]), body["bytes"]) == (MAX_BODY_BYTES.default, len(BIG))


def not_slow(run: ServerRun) -> None:
    every_event_kept(run)
    assert [doc["reqlog"]["slow"] for doc in run.requests()] == [False, False, False]


def only_the_named_key_masked(run: ServerRun) -> None:
    assert small_body(run) == {**SMALL, "email": "[REDACTED]", "password": "[REDACTED]"}


def the_string_is_one_pattern(run: ServerRun) -> None:
    assert small_body(run) == {**SMALL, "note": "ref [REDACTED]", "password": "[REDACTED]"}


def builtin_masking(run: ServerRun) -> None:
    assert small_body(run) == {**SMALL, "password": "[REDACTED]"}


def no_request_body(run: ServerRun) -> None:
    every_event_kept(run)
    assert "content" not in small(run)["http"]["request"].get("body", {})


def no_response_body(run: ServerRun) -> None:
    every_event_kept(run)
    assert "content" not in small(run)["http"]["response"]["body"]


def no_headers(run: ServerRun) -> None:
    every_event_kept(run)
    assert "headers" not in small(run)["reqlog"]["request"]


def no_proxy_trusted(run: ServerRun) -> None:
    assert small(run)["client"]["ip"] == "127.0.0.1"


def request_id_echoed_in_the_default_header(run: ServerRun) -> None:
    every_event_kept(run)
    ids = [reply.headers.get("x-request-id") for reply in run.replies]
    assert ids == [doc["http"]["request"]["id"] for doc in run.requests()]


CASES: list[tuple[str, Any, str, Callable[[ServerRun], None]]] = [
    ("REQLOG_SAMPLE_RATE", "abc", "django_reqlog.E004", every_event_kept),
    ("REQLOG_MAX_BODY_BYTES", "8k", "django_reqlog.E005", body_capped_at_the_default),
    ("REQLOG_SLOW_REQUEST_MS", "1s", "django_reqlog.E005", not_slow),
    ("REQLOG_SKIP_PATHS", "^/healthz", "django_reqlog.E001", every_event_kept),
    ("REQLOG_SENSITIVE_FIELDS", "email", "django_reqlog.E007", only_the_named_key_masked),
    (
        "REQLOG_SENSITIVE_VALUE_PATTERNS",
        r"ACME-\d+",
        "django_reqlog.E002",
        the_string_is_one_pattern,
    ),
    ("REQLOG_ENABLED", "no", "django_reqlog.E009", every_event_kept),
    ("REQLOG_CAPTURE_REQUEST_BODY", 0, "django_reqlog.E009", no_request_body),
    ("REQLOG_CAPTURE_RESPONSE_BODY", "false", "django_reqlog.E009", no_response_body),
    ("REQLOG_CAPTURE_HEADERS", "yes", "django_reqlog.E009", no_headers),
    ("REQLOG_TRUSTED_PROXIES", ["127.0.0.1", "not-an-ip"], "django_reqlog.E003", no_proxy_trusted),
    (
        "REQLOG_REQUEST_ID_HEADER",
        "X Request",
        "django_reqlog.E006",
        request_id_echoed_in_the_default_header,
    ),
    ("REQLOG_REDACT_CALLBACK", "no.such.module", "django_reqlog.E008", builtin_masking),
]


def assert_reported_once(run: ServerRun, check_id: str, setting: str, level: str) -> str:
    """One stderr line and one log record, in the same words; returns them."""
    lines = run.reqlog_stderr()
    assert len(lines) == 1, run.stderr
    text = lines[0].removeprefix("django-reqlog: ")
    assert text.startswith(f"({check_id}) {setting} ")
    assert "for one request" not in run.stderr
    assert [(doc["log.level"], doc["message"], doc["labels"]) for doc in run.reports()] == [
        (level, text, {"check_id": check_id, "setting": setting})
    ]
    return text


@pytest.mark.parametrize(
    ("setting", "value", "check_id", "effect"), CASES, ids=[case[0] for case in CASES]
)
def test_bad_value_under_gunicorn(tmp_path: Path, setting, value, check_id, effect) -> None:
    run = serve(tmp_path, {setting: value}, CALLS)
    assert_reported_once(run, check_id, setting, "error")
    effect(run)


def test_bad_value_under_uvicorn(tmp_path: Path) -> None:
    run = serve(tmp_path, {"REQLOG_SAMPLE_RATE": "abc"}, CALLS, server="uvicorn")
    text = assert_reported_once(run, "django_reqlog.E004", "REQLOG_SAMPLE_RATE", "error")
    assert "using 1.0 instead" in text
    every_event_kept(run)


def test_misspelt_name_under_gunicorn(tmp_path: Path) -> None:
    run = serve(tmp_path, {"REQLOG_SENSITIVE_FEILDS": ["note"]}, CALLS)
    text = assert_reported_once(run, "django_reqlog.W006", "REQLOG_SENSITIVE_FEILDS", "warning")
    assert "did you mean REQLOG_SENSITIVE_FIELDS?" in text
    builtin_masking(run)  # the misspelt setting has no effect
