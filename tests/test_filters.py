"""RequestContextFilter: application log records carry their request's IDs."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, RequestFactory
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from django_reqlog.context import RequestContext, current_context
from django_reqlog.filters import RequestContextFilter
from django_reqlog.formatters import ECSFormatter, LogstashFormatter
from django_reqlog.middleware import RequestLogMiddleware
from tests.helpers.log_capture import KeepRecords
from tests.helpers.no_opentelemetry import run_without_opentelemetry

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def app_records() -> Iterator[KeepRecords]:
    """The application logger's records, through a handler with the filter."""
    handler = KeepRecords()
    handler.addFilter(RequestContextFilter())
    logger = logging.getLogger("tests.integration.app")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


@pytest.fixture
def tracer() -> Iterator[tuple[Tracer, InMemorySpanExporter]]:
    """A real OpenTelemetry SDK tracer whose finished spans are kept in memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield provider.get_tracer("tests.integration"), exporter
    finally:
        provider.shutdown()


def _ids(record: logging.LogRecord) -> tuple[object, object, object]:
    attrs = record.__dict__
    return attrs.get("request_id"), attrs.get("trace_id"), attrs.get("span_id")


def _get(client_class: type[Client] | type[AsyncClient], path: str, **headers: str) -> None:
    if client_class is AsyncClient:
        response = asyncio.run(AsyncClient().get(path, headers=headers))
    else:
        response = Client().get(path, headers=headers)
    assert response.status_code == 200


@pytest.mark.urls("tests.helpers.integration_urls")
@pytest.mark.parametrize(
    ("client_class", "path"),
    [
        (Client, "/sync-logs/"),
        (Client, "/async-logs/"),  # async view under WSGI
        (AsyncClient, "/async-logs/"),
        (AsyncClient, "/sync-logs/"),  # sync view in a thread under ASGI
    ],
)
def test_app_logs_in_a_view_carry_the_events_ids(capture, app_records, client_class, path):
    _get(client_class, path, traceparent=TRACEPARENT)
    event = capture.only()
    ids = (event["http"]["request"]["id"], event["trace"]["id"], event["span"]["id"])
    assert ids[1] == TRACE_ID
    assert app_records.records
    assert [_ids(r) for r in app_records.records] == [ids] * len(app_records.records)
    # Formatted later, on another thread in a real handler: the IDs travel on the record.
    ecs = json.loads(ECSFormatter().format(app_records.records[0]))
    assert {k: ecs.get(k) for k in ("http", "trace", "span", "labels")} == {
        "http": {"request": {"id": ids[0]}},
        "trace": {"id": ids[1]},
        "span": {"id": ids[2]},
        "labels": None,
    }
    flat = json.loads(LogstashFormatter().format(app_records.records[0]))
    assert (flat["request_id"], flat["trace_id"], flat["span_id"]) == ids


@pytest.mark.urls("tests.helpers.integration_urls")
def test_without_traceparent_the_trace_is_left_out(capture, app_records):
    Client().get("/sync-logs/")
    event = capture.only()
    assert "trace" not in event
    (record,) = app_records.records
    assert _ids(record) == (event["http"]["request"]["id"], None, event["span"]["id"])
    assert "trace" not in json.loads(ECSFormatter().format(record))


@pytest.mark.urls("tests.helpers.integration_urls")
def test_the_ids_are_there_only_during_the_request(capture, app_records):
    app_log = logging.getLogger("tests.integration.app")
    app_log.info("at startup", extra={"trace_id": "mine"})
    app_log.info("before")
    Client().get("/sync-logs/", headers={"traceparent": TRACEPARENT})
    app_log.info("after")
    kept, before, during, after = app_records.records
    assert _ids(kept) == (None, "mine", None)  # extra= wins
    assert _ids(before) == _ids(after) == (None, None, None)
    event = capture.only()
    assert _ids(during) == (event["http"]["request"]["id"], TRACE_ID, event["span"]["id"])
    doc = json.loads(ECSFormatter().format(after))
    assert not {"http", "trace", "span", "labels"} & set(doc)


def test_request_events_are_left_alone(capture, tracer):
    """The filter adds nothing to a request event, also when a span is active
    around the whole request (OpenTelemetry's WSGI or ASGI instrumentation):
    the event carries that span's IDs itself (tests/request_events/test_otel.py)."""
    otel, exporter = tracer
    capture.addFilter(RequestContextFilter())
    with otel.start_as_current_span("wsgi request"):
        Client().get("/hello/", headers={"traceparent": TRACEPARENT})
    (record,) = capture.records
    assert "trace_id" not in record.__dict__ and "span_id" not in record.__dict__
    event = capture.only()
    (span,) = exporter.get_finished_spans()
    assert event["trace"] == {"id": format(span.context.trace_id, "032x")}
    assert event["span"] == {"id": format(span.context.span_id, "016x")}
    assert "labels" not in event


def _through_middleware(view) -> object:  # type: ignore[no-untyped-def]
    request = RequestFactory().get("/", HTTP_TRACEPARENT=TRACEPARENT)
    if asyncio.iscoroutinefunction(view):
        return asyncio.run(RequestLogMiddleware(view)(request))
    return RequestLogMiddleware(view)(request)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_active_opentelemetry_span_wins(capture, app_records, tracer, mode):
    otel, exporter = tracer
    app_log = logging.getLogger("tests.integration.app")

    def work() -> None:
        app_log.info("outside the span")
        with otel.start_as_current_span("charge card"):
            app_log.info("inside the span")

    def sync_view(request: HttpRequest) -> HttpResponse:
        work()
        return HttpResponse("ok")

    async def async_view(request: HttpRequest) -> HttpResponse:
        await asyncio.sleep(0)
        work()
        return HttpResponse("ok")

    _through_middleware(sync_view if mode == "sync" else async_view)
    (span,) = exporter.get_finished_spans()
    assert span.context is not None
    event = capture.only()
    request_id = event["http"]["request"]["id"]
    outside, inside = app_records.records
    assert _ids(outside) == (request_id, TRACE_ID, event["span"]["id"])
    assert _ids(inside) == (
        request_id,
        f"{span.context.trace_id:032x}",
        f"{span.context.span_id:016x}",
    )


def test_a_span_outside_a_request_gives_its_ids_alone(app_records, tracer):
    otel, exporter = tracer
    with otel.start_as_current_span("nightly job"):
        logging.getLogger("tests.integration.app").info("in a job")
    (span,) = exporter.get_finished_spans()
    assert span.context is not None
    (record,) = app_records.records
    assert _ids(record) == (None, f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}")


# Run in a fresh interpreter where importing OpenTelemetry fails, as if it
# were not installed; every attempt to import it is recorded.
WITHOUT_OTEL = """
from django.http import HttpResponse
from django.test import RequestFactory
from django_reqlog.context import RequestContext, current_context
from django_reqlog.filters import RequestContextFilter
from django_reqlog.formatters import ECSFormatter
from django_reqlog.middleware import RequestLogMiddleware

records = []
handler = logging.Handler()
handler.emit = records.append
handler.addFilter(RequestContextFilter())
app_log = logging.getLogger("app")
app_log.addHandler(handler)
app_log.setLevel(logging.INFO)

def view(request):
    app_log.info("in the view")
    return HttpResponse("ok")

request = RequestFactory().get("/", HTTP_TRACEPARENT=sys.argv[1], HTTP_X_REQUEST_ID="req-7")
RequestLogMiddleware(view)(request)
doc = json.loads(ECSFormatter().format(records[0]))
print(json.dumps({
    "attempts": NoOpenTelemetry.attempts,
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry"),
    "ids": [doc["http"]["request"]["id"], doc["trace"]["id"], len(doc["span"]["id"])],
}))
"""


def test_works_without_opentelemetry_and_never_imports_it():
    assert run_without_opentelemetry(WITHOUT_OTEL, TRACEPARENT) == {
        "attempts": [],
        "loaded": [],
        "ids": ["req-7", TRACE_ID, 16],
    }


def test_current_context_is_the_events_context(capture):
    seen: list[RequestContext | None] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(current_context())
        return HttpResponse("ok")

    RequestLogMiddleware(view)(
        RequestFactory().get("/", HTTP_TRACEPARENT=TRACEPARENT, HTTP_X_REQUEST_ID="req-9")
    )
    event = capture.only()
    assert seen == [RequestContext("req-9", TRACE_ID, event["span"]["id"], "00f067aa0ba902b7")]
    assert event["reqlog"]["parent_span_id"] == "00f067aa0ba902b7"
    assert current_context() is None
