"""OpenTelemetry: request events carry the span of the real
``opentelemetry-instrumentation-django``, wherever its middleware sits.

Its middleware opens the request's server span in its request step and
closes it in its response step. Placed before ours (``DjangoInstrumentor``'s
default, position 0) the span is active for our whole request; placed after
ours (the order our README recommends for our own middleware, first) it is
active only from there to the view, so the middleware reads it when the
view is resolved. Both orders, sync and async, are checked against the
spans the real SDK exports to its in-memory exporter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import AsyncClient, Client, override_settings
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from django_reqlog.filters import RequestContextFilter
from tests.helpers.log_capture import KeepRecords
from tests.helpers.no_opentelemetry import run_without_opentelemetry

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT}-01"
OURS = "django_reqlog.middleware.RequestLogMiddleware"

pytestmark = pytest.mark.urls("tests.helpers.integration_urls")


@pytest.fixture(params=["otel-first", "ours-first"])
def exporter(request: pytest.FixtureRequest) -> Iterator[InMemorySpanExporter]:
    """Django instrumented with a real SDK tracer; its middleware put before
    ours (position 0) or right after ours (position 1)."""
    assert settings.MIDDLEWARE[0] == OURS
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    position = 0 if request.param == "otel-first" else 1
    # instrument() edits settings.MIDDLEWARE; the override puts it back.
    with override_settings(MIDDLEWARE=list(settings.MIDDLEWARE)):
        DjangoInstrumentor().instrument(tracer_provider=provider, middleware_position=position)
        try:
            order = [m.rsplit(".", 1)[-1] for m in settings.MIDDLEWARE[:2]]
            assert order.index("RequestLogMiddleware") == position ^ 1, order
            yield spans
        finally:
            DjangoInstrumentor().uninstrument()
            provider.shutdown()


def _server_span(spans: InMemorySpanExporter) -> ReadableSpan:
    (span,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    return span


def _ids(span: ReadableSpan) -> tuple[str, str]:
    assert span.context is not None
    return format(span.context.trace_id, "032x"), format(span.context.span_id, "016x")


def _get(client: str, path: str, **headers: str) -> Any:
    if client == "async":
        return asyncio.run(AsyncClient().get(path, headers=headers))
    return Client().get(path, headers=headers)


@pytest.mark.parametrize(
    ("client", "path"),
    [("sync", "/sync-logs/"), ("sync", "/async-logs/"), ("async", "/async-logs/")],
)
def test_the_event_carries_the_request_span(exporter, reqlog_events, client, path):
    assert _get(client, path).status_code == 200
    trace_id, span_id = _ids(_server_span(exporter))
    (event,) = reqlog_events
    assert event["trace"] == {"id": trace_id}
    assert event["span"] == {"id": span_id}
    assert event["transaction"] == {"id": span_id}
    assert "parent_span_id" not in event["reqlog"]  # a root span: no parent
    logstash = reqlog_events.logstash[0]
    assert (logstash["trace_id"], logstash["span_id"]) == (trace_id, span_id)


def test_a_traceparent_continues_into_the_span_and_the_event(exporter, reqlog_events):
    Client().get("/sync-logs/", headers={"traceparent": TRACEPARENT})
    span = _server_span(exporter)
    assert span.parent is not None and format(span.parent.span_id, "016x") == PARENT
    (event,) = reqlog_events
    assert (event["trace"]["id"], event["span"]["id"]) == _ids(span)
    assert event["trace"]["id"] == TRACE_ID
    assert event["reqlog"]["parent_span_id"] == PARENT


@pytest.mark.parametrize("client", ["sync", "async"])
def test_app_logs_and_the_event_agree(exporter, reqlog_events, client):
    handler = KeepRecords()
    handler.addFilter(RequestContextFilter())
    app_log = logging.getLogger("tests.integration.app")
    app_log.addHandler(handler)
    old_level = app_log.level
    app_log.setLevel(logging.INFO)
    try:
        _get(client, "/sync-logs/")
    finally:
        app_log.removeHandler(handler)
        app_log.setLevel(old_level)
    (event,) = reqlog_events
    (record,) = handler.records
    ids = (event["http"]["request"]["id"], *_ids(_server_span(exporter)))
    assert (record.request_id, record.trace_id, record.span_id) == ids  # type: ignore[attr-defined]
    assert (event["trace"]["id"], event["span"]["id"]) == ids[1:]


def test_without_instrumentation_the_traceparent_is_used(reqlog_events):
    Client().get("/sync-logs/", headers={"traceparent": TRACEPARENT})
    (event,) = reqlog_events
    assert event["trace"] == {"id": TRACE_ID}
    assert event["reqlog"]["parent_span_id"] == PARENT
    assert len(event["span"]["id"]) == 16


# A fresh interpreter where importing OpenTelemetry fails, as if it were not
# installed: a request through the whole handler (process_view included)
# still takes its trace from traceparent, and nothing tries the import.
WITHOUT_OTEL = """
from django.test import Client
from django.test.utils import override_settings, setup_test_environment
from django_reqlog.formatters import ECSFormatter

setup_test_environment()
records = []
handler = logging.Handler()
handler.emit = records.append
logger = logging.getLogger("django_reqlog")
logger.addHandler(handler)
logger.setLevel(logging.INFO)
with override_settings(ROOT_URLCONF="tests.helpers.integration_urls"):
    Client().get("/sync-logs/", headers={"traceparent": sys.argv[1]})
doc = json.loads(ECSFormatter().format(records[0]))
print(json.dumps({
    "attempts": NoOpenTelemetry.attempts,
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry"),
    "trace": doc["trace"]["id"],
    "parent": doc["reqlog"]["parent_span_id"],
}))
"""


def test_events_without_opentelemetry_installed():
    assert run_without_opentelemetry(WITHOUT_OTEL, TRACEPARENT) == {
        "attempts": [],
        "loaded": [],
        "trace": TRACE_ID,
        "parent": PARENT,
    }
