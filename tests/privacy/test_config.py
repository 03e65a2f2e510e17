"""Guarantee 6: redaction is configurable: extra keys, extra value patterns and
a dotted-path callback, with the built-in masking kept if the callback fails."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import RequestFactory, override_settings

from django_reqlog.masking import is_sensitive_key, scrub_free_text, scrub_text
from django_reqlog.middleware import RequestLogMiddleware
from tests.helpers.privacy import collecting
from tests.views import plain_ok as _view

CALLS: list[dict[str, Any]] = []


def drop_username(fields: dict[str, Any]) -> dict[str, Any]:
    """A REQLOG_REDACT_CALLBACK: receives the masked fields, returns them changed."""
    CALLS.append(dict(fields))
    fields["username"] = None
    fields["request_body"] = (fields["request_body"] or "").replace("visible-note", "[NOTE]")
    return fields


def explode(fields: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("callback bug")


def one_event(body: dict[str, Any], query: str = "") -> tuple[dict[str, Any], list[str]]:
    request = RequestFactory().post(
        f"/cfg/?{query}", data=json.dumps(body), content_type="application/json"
    )
    with collecting() as collector:
        RequestLogMiddleware(_view)(request)
        lines = collector.json_lines()
    return json.loads(lines[0]), lines


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        (["employee_number"], "employee_number"),
        (["employee_number"], "EmployeeNumber"),
        (["employee_number"], "new-employee-number"),
        (["iban"], "customer.iban"),
    ],
)
def test_added_sensitive_fields(extra, key):
    body = {key: "added-key-value", "other": "kept"}
    _, lines = one_event(body)
    assert "added-key-value" in lines[0]  # not masked by default
    with override_settings(REQLOG_SENSITIVE_FIELDS=extra):
        doc, lines = one_event(body, query=f"{key}=q-added-value")
        assert is_sensitive_key(key)
    assert all("added-key-value" not in line and "q-added-value" not in line for line in lines)
    assert json.loads(doc["http"]["request"]["body"]["content"])["other"] == "kept"
    assert not is_sensitive_key(key)  # the cache is dropped when the setting goes


def test_added_value_patterns():
    text = "ref ACME-1234-5678 and order 42"
    assert scrub_text(text) == text
    with override_settings(REQLOG_SENSITIVE_VALUE_PATTERNS=[r"ACME-\d{4}-\d{4}", "(unclosed"]):
        assert scrub_text(text) == "ref [REDACTED] and order 42"
        doc, lines = one_event({"note": text})
    assert json.loads(doc["http"]["request"]["body"]["content"]) == {
        "note": "ref [REDACTED] and order 42"
    }
    assert all("ACME-1234" not in line for line in lines)


@override_settings(REQLOG_REDACT_CALLBACK="tests.privacy.test_config.drop_username")
def test_dotted_path_callback_receives_masked_fields_and_its_result_is_logged():
    CALLS.clear()
    doc, lines = one_event({"password": "cb-secret", "note": "visible-note"})
    assert len(CALLS) == 1  # once per event, shared by both formatters
    received = CALLS[0]
    assert "cb-secret" not in json.dumps(received)  # built-in masking ran first
    assert json.loads(received["request_body"]) == {
        "password": "[REDACTED]",
        "note": "visible-note",
    }
    assert json.loads(doc["http"]["request"]["body"]["content"]) == {
        "password": "[REDACTED]",
        "note": "[NOTE]",
    }
    assert all("visible-note" not in line for line in lines)


@override_settings(REQLOG_REDACT_CALLBACK="tests.privacy.test_config.explode")
def test_raising_callback_keeps_builtin_masking(capsys):
    doc, lines = one_event({"password": "cb-secret-2", "note": "n"})
    assert json.loads(doc["http"]["request"]["body"]["content"]) == {
        "password": "[REDACTED]",
        "note": "n",
    }
    assert all("cb-secret-2" not in line for line in lines)
    assert "REQLOG_REDACT_CALLBACK failed" in capsys.readouterr().err


@override_settings(REQLOG_REDACT_CALLBACK="tests.privacy.test_config.no_such_function")
def test_unimportable_callback_keeps_builtin_masking():
    doc, _ = one_event({"token": "cb-secret-3"})
    assert json.loads(doc["http"]["request"]["body"]["content"]) == {"token": "[REDACTED]"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password=hunter2 ok", "password=[REDACTED] ok"),
        ("'password': 'hunter2'", "'password': '[REDACTED]'"),
        ("password: hunter 2, user: bob", "password: [REDACTED], user: bob"),
        ("Authorization: Digest username=x response=y", "Authorization: [REDACTED]"),
        ('{"api_key": "k1", "n": 1}', '{"api_key": "[REDACTED]", "n": 1}'),
        ("Authorization: Bearer abcdefgh12345", "Authorization: [REDACTED]"),
        ("card 4111 1111 1111 1111 ok", "card [REDACTED] ok"),
        ("card 4111 1111 1111 1112 ok", "card 4111 1111 1111 1112 ok"),  # fails Luhn
        ("author=jane spin=3", "author=jane spin=3"),  # short words only as whole words
        ("user_pin=1234 userPin=5678", "user_pin=[REDACTED] userPin=[REDACTED]"),
    ],
)
def test_documented_free_text_examples(text, expected):
    assert scrub_free_text(text) == expected
