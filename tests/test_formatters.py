"""Formatters: exact output for fixed records, python-logstash parity, robustness."""

from __future__ import annotations

import json
import logging
import logging.config
import socket
import sys

import pytest
from django.test import override_settings
from logstash.formatter import LogstashFormatterVersion1

from django_reqlog.formatters import ECS_VERSION, ConsoleFormatter, ECSFormatter, LogstashFormatter
from tests.helpers.request_facts import example_facts as _facts
from tests.helpers.request_facts import example_record as _record

CREATED = 1764236572.123456  # 2025-11-27T09:42:52.123Z
HOST = socket.gethostname()


def test_ecs_exact_output_for_request_record():
    line = ECSFormatter().format(_record(_facts()))
    expected = {
        "@timestamp": "2025-11-27T09:42:52.123Z",
        "log.level": "info",
        "message": "POST /login/?next=%2Fhome 200",
        "ecs": {"version": ECS_VERSION},
        "log": {
            "logger": "django_reqlog",
            "origin": {"file": {"name": "mw.py", "line": 10}, "function": "emit"},
        },
        "process": {"pid": 4242, "thread": {"name": "MainThread"}},
        "host": {"hostname": HOST},
        "event": {
            "id": "e" * 32,
            "kind": "event",
            "category": ["web"],
            "type": ["access"],
            "dataset": "django.reqlog",
            "module": "django",
            "duration": 12_500_000,
            "start": "2025-11-27T09:42:52.110Z",
            "end": "2025-11-27T09:42:52.123Z",
            "outcome": "success",
        },
        "http": {
            "request": {
                "id": "req-1",
                "method": "POST",
                "mime_type": "application/json",
                "body": {"content": '{"username": "alice", "password": "[REDACTED]"}', "bytes": 44},
            },
            "response": {
                "status_code": 200,
                "mime_type": "application/json",
                "body": {"bytes": 17},
            },
            "version": "1.1",
        },
        "url": {
            "path": "/login/",
            "query": "next=/home&token=[REDACTED]",
            "original": "/login/?next=/home&token=[REDACTED]",
            "full": "https://api.example.com:8443/login/?next=/home&token=[REDACTED]",
            "scheme": "https",
            "domain": "api.example.com",
            "port": 8443,
        },
        "client": {"ip": "203.0.113.5", "port": 51234},
        "source": {"ip": "203.0.113.5", "port": 51234},
        "user": {"id": "7", "name": "alice"},
        "user_agent": {"original": "curl/8.0"},
        "trace": {"id": "4bf92f3577b34da6a3ce929d0e0e4736"},
        "span": {"id": "53995c3f42cd8ad8"},
        "transaction": {"id": "53995c3f42cd8ad8"},
        "reqlog": {
            "route": "login/",
            "view": "login",
            "slow": False,
            "sample_rate": 0.25,
            "sample_weight": 4.0,
            "parent_span_id": "00f067aa0ba902b7",
            "request": {"body": {"truncated": False, "kind": "json", "unread": False}},
        },
    }
    assert json.loads(line) == expected
    assert list(json.loads(line))[:3] == ["@timestamp", "log.level", "message"]
    assert "\n" not in line


def test_logstash_exact_output_for_request_record():
    doc = json.loads(LogstashFormatter(tags=["web"]).format(_record(_facts())))
    assert doc == {
        "@timestamp": "2025-11-27T09:42:52.123Z",
        "@version": "1",
        "message": "POST /login/?next=%2Fhome 200",
        "host": HOST,
        "path": "/app/mw.py",
        "tags": ["web"],
        "type": "Logstash",
        "level": "INFO",
        "logger_name": "django_reqlog",
        "client": "203.0.113.5",
        "client_port": 51234,
        "peer_ip": "203.0.113.5",
        "peer_port": 51234,
        "username": "alice",
        "user_id": "7",
        "request_method": "POST",
        "request_url": "/login/?next=/home&token=[REDACTED]",
        "request_url_full": "https://api.example.com:8443/login/?next=/home&token=[REDACTED]",
        "request_path": "/login/",
        "query_string": "next=/home&token=[REDACTED]",
        "scheme": "https",
        "http_host": "api.example.com",
        "http_version": "1.1",
        "request_body": '{"username": "alice", "password": "[REDACTED]"}',
        "request_body_bytes": 44,
        "request_body_truncated": False,
        "request_body_kind": "json",
        "request_body_unread": False,
        "request_content_type": "application/json",
        "status": 200,
        "response_bytes": 17,
        "response_content_type": "application/json",
        "duration_ns": 12_500_000,
        "duration_ms": 12.5,
        "event_start": "2025-11-27T09:42:52.110Z",
        "event_end": "2025-11-27T09:42:52.123Z",
        "request_id": "req-1",
        "event_id": "e" * 32,
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "53995c3f42cd8ad8",
        "transaction_id": "53995c3f42cd8ad8",
        "parent_span_id": "00f067aa0ba902b7",
        "route": "login/",
        "view": "login",
        "user_agent": "curl/8.0",
        "outcome": "success",
        "slow": False,
        "sample_rate": 0.25,
        "sample_weight": 4.0,
    }


ENVELOPE = (
    "@timestamp",
    "@version",
    "message",
    "host",
    "path",
    "tags",
    "type",
    "level",
    "logger_name",
)


@pytest.mark.parametrize("level", [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR])
@pytest.mark.parametrize(("message_type", "tags"), [("Logstash", None), ("django", ["a", "b"])])
def test_logstash_envelope_matches_python_logstash(level, message_type, tags):
    record = _record(None, level=level, custom="value", number=3)
    ours = json.loads(LogstashFormatter(message_type=message_type, tags=tags).format(record))
    theirs = json.loads(
        LogstashFormatterVersion1(message_type=message_type, tags=tags).format(record)
    )
    assert {k: ours[k] for k in ENVELOPE} == {k: theirs[k] for k in ENVELOPE}
    # python-logstash's extra-field handling: ours keeps the same extras.
    assert ours["custom"] == theirs["custom"] == "value"
    assert ours["number"] == theirs["number"] == 3


def test_ordinary_records_and_exceptions():
    try:
        raise ValueError("broken thing")
    except ValueError:
        record = _record(None, level=logging.ERROR, obj=object(), order_id=12)
        record.exc_info = sys.exc_info()
    ecs = json.loads(ECSFormatter().format(record))
    assert ecs["error"]["type"] == "ValueError"
    assert ecs["error"]["message"] == "broken thing"
    assert "Traceback" in ecs["error"]["stack_trace"]
    assert ecs["labels"]["order_id"] == 12
    assert ecs["labels"]["obj"].startswith("<object object at")
    assert "http" not in ecs
    ls = json.loads(LogstashFormatter().format(record))
    assert ls["error_type"] == "ValueError"
    assert "Traceback" in ls["stack_trace"]
    assert ls["obj"].startswith("<object object at")


@pytest.mark.parametrize("args", [("only-one",), ("a", "b", "c"), (object(),)])
def test_bad_format_args_never_raise(args):
    record = logging.LogRecord("x", logging.INFO, "f.py", 1, "%s and %d", args, None)
    for formatter in (ECSFormatter(), LogstashFormatter()):
        doc = json.loads(formatter.format(record))
        assert doc["message"].startswith("'%s and %d'")


def test_shipper_metrics_mapping():
    metrics = {
        "queued": 1,
        "sent": 2,
        "retried": 0,
        "spooled": 3,
        "dropped": 4,
        "failed": 0,
        "spool_bytes": 10,
    }
    record = _record(None, level=logging.WARNING, reqlog_shipper=metrics)
    ecs = json.loads(ECSFormatter().format(record))
    assert ecs["reqlog"]["shipper"] == metrics
    assert ecs["event"]["kind"] == "metric"
    assert ecs["event"]["action"] == "shipper-health"
    assert json.loads(LogstashFormatter().format(record))["reqlog_shipper"] == metrics


def test_oversized_event_is_trimmed_under_300_kib():
    facts = _facts(
        body_prefix=b"x" * 400_000,
        content_type="text/plain",
        body_bytes=400_000,
    )
    with override_settings(REQLOG_MAX_BODY_BYTES=400_000):
        for formatter in (ECSFormatter(), LogstashFormatter()):
            line = formatter.format(_record(facts))
            assert len(line.encode()) <= 300 * 1024
            json.loads(line)


def test_unserialisable_and_surrogates_never_fail():
    record = _record(None, weird={1, 2}, surrogate="bad \udc80 text", big=10**30)
    for formatter in (ECSFormatter(), LogstashFormatter()):
        line = formatter.format(record)
        line.encode("utf-8")
        assert json.loads(line)["message"] == "POST /login/?next=%2Fhome 200"


def test_console_formatter_escapes_control_characters():
    facts = _facts(path="/a\nb\x1b[31m", status=404)
    line = ConsoleFormatter().format(_record(facts))
    assert "\n" not in line and "\x1b" not in line
    assert line.startswith("POST /a\\nb\\x1b[31m?next=/home&token=[REDACTED] 404 12.5ms user=alice")


def test_formatters_work_from_dictconfig(tmp_path):
    target = tmp_path / "events.log"
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "ecs": {"()": "django_reqlog.formatters.ECSFormatter", "service_name": "shop"},
                "logstash": {
                    "()": "django_reqlog.formatters.LogstashFormatter",
                    "message_type": "django",
                },
            },
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "filename": str(target),
                    "formatter": "ecs",
                },
                "file2": {
                    "class": "logging.FileHandler",
                    "filename": str(target) + ".ls",
                    "formatter": "logstash",
                },
            },
            "loggers": {
                "dictconfig.test": {
                    "handlers": ["file", "file2"],
                    "level": "INFO",
                    "propagate": False,
                }
            },
        }
    )
    log = logging.getLogger("dictconfig.test")
    log.info("hello %s", "world")
    for handler in log.handlers:
        handler.close()
    log.handlers.clear()
    assert json.loads(target.read_text())["service"] == {"name": "shop"}
    assert json.loads((tmp_path / "events.log.ls").read_text())["type"] == "django"


@pytest.mark.parametrize(
    ("factory", "kwargs", "error"),
    [
        (ECSFormatter, {"service_name": 3}, TypeError),
        (ECSFormatter, {"extra_namespace": 1}, TypeError),
        (LogstashFormatter, {"message_type": 1}, TypeError),
        (LogstashFormatter, {"tags": "notalist"}, TypeError),
    ],
)
def test_constructor_validation(factory, kwargs, error):
    with pytest.raises(error):
        factory(**kwargs)
