"""Whole request events formatted by the compiled core against the Python
formatters: for generated facts (every field, hostile values) and every
setting that changes what is masked, the core's line equals
``dumps(format_to_dict(record))`` byte for byte, for both formatters, or the
core declines in one of the documented cases and the Python path answers.

The expected line is made with the pure-Python masker (``REQLOG_NATIVE=0``'s
path), so the core is checked against the reference from end to end. The
core is asked directly, so these tests run in both legs of ``make test``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings

from django_reqlog import _json, formatters, masking, request_fields
from django_reqlog.conf import clear_caches
from django_reqlog.formatters import ECSFormatter, LogstashFormatter
from django_reqlog.request_facts import RequestFacts
from tests.helpers import masking_cases as ms
from tests.helpers import request_facts as es
from tests.helpers.privacy import (
    FIGURES,
    examples,
)

needs_core = pytest.mark.skipif(formatters._native is None, reason="the core is not built")
MAX_EVENT_BYTES = 300 * 1024

# The user patterns of the masking tests but the e-mail one, which Python's
# re runs in quadratic time over the long hostile values generated here.
PATTERNS = [p for p in ms.USER_PATTERNS if "@" not in p]
SETTINGS = [
    {},
    {
        "REQLOG_TRUSTED_PROXIES": ["10.0.0.0/8", "2001:db8::/32", "127.0.0.1"],
        "REQLOG_SENSITIVE_VALUE_PATTERNS": PATTERNS,
        "REQLOG_SENSITIVE_FIELDS": ["iban", "employee_no", "note"],
    },
    {"REQLOG_TRUSTED_PROXIES": ["0.0.0.0/0", "::/0"]},
]


def agree(count: int) -> hsettings:
    return hsettings(
        max_examples=examples(count),
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
    )


@pytest.fixture(params=range(len(SETTINGS)), ids=["defaults", "patterns", "trust-all"])
def core(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The core for one configuration, made as the formatters make it."""
    with override_settings(**SETTINGS[request.param]):
        masking._NATIVE_ON = formatters._native is not None
        clear_caches(setting="REQLOG_SENSITIVE_FIELDS")
        events = formatters._events_core()
        assert events is not None
        yield events
    masking._NATIVE_ON = masking.native_enabled()
    clear_caches(setting="REQLOG_SENSITIVE_FIELDS")


def reference(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    """The Python path's line (``dumps(format_to_dict(record))``, trimmed
    past 300 KiB), masked by the pure-Python reference masker."""
    on, events = masking._NATIVE_ON, formatters._EVENTS[:]
    masking._NATIVE_ON = False
    formatters._EVENTS[:] = [None]  # the formatters' own path, not the core
    try:
        record.reqlog._fields = None
        return formatter.format(record)
    finally:
        masking._NATIVE_ON = on
        formatters._EVENTS[:] = events


def core_line(events: Any, formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    if isinstance(formatter, ECSFormatter):
        return events.ecs(
            record, formatter.hostname, formatter.service_name, bool(formatter.extra_namespace)
        )
    assert isinstance(formatter, LogstashFormatter)
    return events.logstash(record, formatter.host, formatter.tags, formatter.message_type)


SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("utf-8", "replace")
    elif isinstance(value, (list, tuple, frozenset)):
        for item in value:
            yield from _texts(item)


def documented_decline(facts: RequestFacts, line: str) -> str | None:
    """Why the core may decline this event (docs/development.md), or None."""
    values = [getattr(facts, name) for name in facts.__slots__ if name != "_fields"]
    texts = [text for value in values for text in _texts(value)]
    if any(SURROGATE.search(text) for text in texts):
        return "a lone surrogate"
    if any(SURROGATE_ESCAPE.search(text) for text in texts):
        return "a JSON string with a lone surrogate escape"
    floats = [facts.sample_rate] + [v for _, v in facts.labels or () if type(v) is float]
    if any(isinstance(n, float) and not (n == 0 or 1e-4 <= abs(n) < 1e16) for n in floats):
        return "a float outside [1e-4, 1e16)"
    if facts.db_slowest_sql is not None:
        return "the slowest statement's SQL (masked by the Python formatter)"
    if facts.view_sensitive_fields:
        return "a view's own sensitive_fields"
    start = facts.started_at
    if not 0 <= start + facts.duration_ns / 1e9 < 253402300800 or start < 0:
        return "a time outside the years 1970-9999"
    types = [facts.content_type.split(";")[0], facts.content_encoding]
    types += [facts.response_content_type.split(";")[0]]
    names = [name for name, _ in facts.headers or ()]
    if not all(t.isascii() for t in types + names):
        return "a content type, encoding or header name that is not ASCII"
    if len(line.encode("utf-8", "surrogatepass")) > MAX_EVENT_BYTES:
        return "an event over 300 KiB (the Python formatter trims it)"
    return None


FORMATTERS = [
    ECSFormatter(),
    ECSFormatter(service_name="shop", extra_namespace=None),
    LogstashFormatter(tags=["web", "é"], message_type="django"),
]


@needs_core
@agree(400)
@given(facts=es.request_facts())
@example(facts=es.example_facts())
def test_core_lines_equal_the_python_formatters(core, facts):
    for formatter in FORMATTERS:
        record = es.request_record(facts)
        expected = reference(formatter, record)
        got = core_line(core, formatter, record)
        FIGURES[f"core events: {'declined' if got is None else 'formatted'}"] += 1
        if got is None:
            assert documented_decline(facts, expected), expected
        else:
            assert got == expected


@needs_core
@agree(300)
@given(facts=es.request_facts())
def test_core_fields_equal_request_fields(core, facts):
    got = core.request_fields(facts)
    on, masking._NATIVE_ON = masking._NATIVE_ON, False
    try:
        expected = request_fields._build(facts)
    finally:
        masking._NATIVE_ON = on
    if got is None:
        assert documented_decline(facts, "")
    else:
        assert got == expected
        assert list(got) == list(expected)


@needs_core
@agree(150)
@given(facts=es.request_facts())
@example(facts=es.example_facts(sample_rate=1e-05))  # 1e-05 for the stdlib, 0.00001 for orjson
@example(facts=es.example_facts(sample_rate=0.0001, duration_ns=62_500))
def test_core_lines_equal_the_stdlib_json_fallback(core, facts, monkeypatch):
    # Without orjson, dumps() writes with the stdlib: within the values the
    # core writes, the two spell everything alike.
    monkeypatch.setattr(_json, "_orjson_dumps", None)
    for formatter in FORMATTERS:
        record = es.request_record(facts)
        expected = reference(formatter, record)
        got = core_line(core, formatter, record)
        assert got is None or got == expected


# -- when the formatters use the core ------------------------------------------------

core_on = pytest.mark.skipif(
    not masking.native_enabled(), reason="the core is not built or REQLOG_NATIVE=0"
)


def _no_python_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(facts: RequestFacts) -> dict[str, Any]:
        raise AssertionError("the Python path built the fields")

    monkeypatch.setattr(request_fields, "_build", refuse)


@core_on
@pytest.mark.parametrize("formatter", FORMATTERS, ids=["ecs", "ecs-service", "logstash"])
def test_request_records_are_formatted_by_the_core(formatter, monkeypatch):
    expected = formatter.format(es.example_record(es.example_facts()))
    _no_python_fields(monkeypatch)
    assert formatter.format(es.example_record(es.example_facts())) == expected
    assert '\\"password\\": \\"[REDACTED]\\"' in expected


@core_on
def test_the_plain_file_handler_setup_uses_the_core(tmp_path, monkeypatch):
    # The README's first setup: a FileHandler carrying ECSFormatter.
    handler = logging.FileHandler(tmp_path / "events.log")
    handler.setFormatter(ECSFormatter())
    _no_python_fields(monkeypatch)
    handler.emit(es.example_record(es.example_facts()))
    handler.close()
    doc = json.loads((tmp_path / "events.log").read_text())
    assert doc["http"]["request"]["body"]["content"].endswith('"password": "[REDACTED]"}')


class PlusTenant(ECSFormatter):
    def format_to_dict(self, record: logging.LogRecord) -> dict[str, Any]:
        doc = super().format_to_dict(record)
        doc["tenant"] = "t1"
        return doc


def test_a_subclass_overriding_format_to_dict_gets_its_fields():
    doc = json.loads(PlusTenant().format(es.example_record(es.example_facts())))
    assert doc["tenant"] == "t1"
    assert doc["url"]["query"] == "next=/home&token=[REDACTED]"


def redact_username(fields: dict[str, Any]) -> dict[str, Any]:
    fields["username"] = "hashed"
    return fields


@override_settings(REQLOG_REDACT_CALLBACK="tests.test_native_events.redact_username")
def test_a_redact_callback_gets_the_python_fields():
    assert formatters._events_core() is None
    for formatter in FORMATTERS:
        doc = json.loads(formatter.format(es.example_record(es.example_facts())))
        assert doc.get("user", {}).get("name", doc.get("username")) == "hashed"


def _raised() -> Any:
    try:
        raise ValueError("broken")
    except ValueError:
        return sys.exc_info()


@needs_core
@pytest.mark.parametrize(
    ("why", "extra"),
    [
        ("an exception", {"exc_info": _raised()}),
        ("a traceback text", {"exc_text": "Traceback ..."}),
        ("an extra field", {"order_id": 12}),
        ("shipper metrics", {"reqlog_shipper": {"sent": 1}}),
        ("%-arguments", {"msg": "%s done", "args": ("x",)}),
        ("a message of another type", {"msg": 12}),
        ("another request's message", {"msg": request_fields.EventMessage(es.example_facts())}),
    ],
)
def test_the_core_declines_records_it_does_not_format(core, why, extra):
    record = es.request_record(es.example_facts(), **extra)
    assert core_line(core, LogstashFormatter(), record) is None, why
    assert core_line(core, ECSFormatter(), record) is None, why
    for formatter in FORMATTERS:  # and the Python path answers
        doc = json.loads(formatter.format(record))
        assert "reqlog_format_error" not in doc, why


@needs_core
def test_the_core_declines_ordinary_records(core):
    record = es.example_record(None)
    assert core_line(core, ECSFormatter(), record) is None
    assert core_line(core, LogstashFormatter(), record) is None


@needs_core
def test_extra_fields_matter_only_where_they_are_placed(core):
    record = es.request_record(es.example_facts(), order_id=12)
    dropped = ECSFormatter(extra_namespace=None)
    assert core_line(core, dropped, record) == reference(dropped, record)
    assert json.loads(ECSFormatter().format(record))["labels"] == {"order_id": 12}


@pytest.mark.parametrize(
    ("attribute", "value"),
    [("tags", "notalist"), ("host", 3), ("message_type", None), ("tags", [1, 2])],
)
def test_odd_formatter_attributes_never_make_formatting_fail(attribute, value):
    formatter = LogstashFormatter()
    setattr(formatter, attribute, value)
    doc = json.loads(formatter.format(es.example_record(es.example_facts())))
    assert doc["request_url"] == "/login/?next=/home&token=[REDACTED]"


def test_ordinary_records_never_reach_the_core(monkeypatch):
    asked: list[str] = []
    monkeypatch.setattr(formatters, "_events_core", lambda: asked.append("core"))
    for formatter in FORMATTERS:
        doc = json.loads(formatter.format(es.example_record(None)))
        assert doc["message"] == "POST /login/?next=%2Fhome 200"
    assert asked == []


def test_a_core_that_cannot_be_made_leaves_the_python_path(monkeypatch):
    def broken() -> Any:
        raise RuntimeError("no settings")

    monkeypatch.setattr(formatters, "_events_core", broken)
    for formatter in FORMATTERS:
        doc = json.loads(formatter.format(es.example_record(es.example_facts())))
        assert "reqlog_format_error" not in doc
        assert "hunter2" not in json.dumps(doc)
