"""Request events handed to shippers without a LogRecord on the request thread.

When every handler a request record would reach is a django-reqlog shipper
that only queues it, the middleware queues the event itself and the shipper's
worker makes the record. These tests pin when that happens, and that the
record made on the worker, and the JSON formatted from it, equal what the
standard path gives.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.test import AsyncClient, Client, RequestFactory

from django_reqlog import middleware
from django_reqlog._record import make_record
from django_reqlog.event import EventMessage
from django_reqlog.formatters import ECSFormatter, LogstashFormatter
from django_reqlog.frozen import freeze, is_frozen, thaw
from django_reqlog.handlers import LogstashHandler, ShipperHandler
from django_reqlog.middleware import RequestLogMiddleware
from tests.handlers_support import TCPReceiver, wait_for
from tests.logging_support import KeepRecords, attached, tenant_record_factory

LOGGER = logging.getLogger("django_reqlog")


class Direct(KeepRecords):
    """Takes request events the way a shipper does; keeps records too."""

    direct_request_events = True

    def __init__(self, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.events: list[Any] = []

    def queue_request_event(self, event: Any) -> None:
        self.events.append(event)


class CustomEmit(LogstashHandler):
    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)


class CustomHandle(LogstashHandler):
    def handle(self, record: logging.LogRecord) -> bool:
        return super().handle(record)


class CustomFilter(LogstashHandler):
    def filter(self, record: logging.LogRecord) -> bool:
        return True


@pytest.mark.parametrize(
    ("cls", "direct"),
    [
        (LogstashHandler, True),
        (ShipperHandler, True),
        (CustomEmit, False),
        (CustomHandle, False),
        (CustomFilter, False),
    ],
)
def test_only_shippers_that_handle_records_as_shipped_take_events_directly(
    cls: type[ShipperHandler], direct: bool
) -> None:
    assert cls.direct_request_events is direct


@contextmanager
def root_handlers() -> Iterator[list[logging.Handler]]:
    """The root logger's handlers, emptied meanwhile (pytest's log capture
    adds its own for the test's call) and put back after."""
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers[:] = []
    try:
        yield root.handlers
    finally:
        root.handlers[:] = saved


def _route(handlers: list[logging.Handler], **state: Any) -> tuple[int, int]:
    """(events queued directly, records handled) for one request."""
    with attached(handlers[0]):
        for extra in handlers[1:]:
            LOGGER.addHandler(extra)
        LOGGER.propagate = state.get("propagate", False)
        try:
            Client().get("/hello/")
        finally:
            for extra in handlers[1:]:
                LOGGER.removeHandler(extra)
    direct = sum(len(h.events) for h in handlers if isinstance(h, Direct))
    records = sum(len(getattr(h, "records", [])) for h in handlers)
    return direct, records


def test_only_shippers_listening_means_no_record_on_the_request_thread() -> None:
    first, second = Direct(), Direct()
    assert _route([first, second]) == (2, 0)
    assert first.events[0] is second.events[0]  # one immutable event, shared


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(KeepRecords, id="another handler"),
        pytest.param(lambda: _filtered(Direct()), id="a handler filter"),
    ],
)
def test_any_other_listener_gets_the_standard_record(other: Any) -> None:
    shipper = Direct()
    extra = other()
    direct, records = _route([shipper, extra])
    assert direct == 0
    assert records == 2  # both handlers got the record from Logger.handle


def _filtered(handler: logging.Handler) -> logging.Handler:
    handler.addFilter(lambda record: True)
    return handler


def test_a_logger_filter_gets_the_standard_record() -> None:
    shipper = Direct()
    LOGGER.addFilter(_keep_all)
    try:
        assert _route([shipper]) == (0, 1)
    finally:
        LOGGER.removeFilter(_keep_all)


def _keep_all(record: logging.LogRecord) -> bool:
    return True


def test_a_record_factory_gets_the_standard_record() -> None:
    with tenant_record_factory():
        shipper = Direct()
        assert _route([shipper]) == (0, 1)
    assert shipper.records[0].tenant == "acme"  # type: ignore[attr-defined]


def test_propagation_to_a_root_handler_gets_the_standard_record() -> None:
    plain = KeepRecords()
    with root_handlers() as handlers:
        handlers.append(plain)
        shipper = Direct()
        assert _route([shipper], propagate=True) == (0, 1)
    assert len(plain.records) == 1


def test_propagation_to_a_root_without_handlers_stays_direct() -> None:
    with root_handlers():
        assert _route([Direct()], propagate=True) == (1, 0)


def test_a_handler_above_the_event_level_gets_nothing() -> None:
    quiet, loud = Direct(logging.WARNING), Direct()
    assert _route([quiet, loud]) == (1, 0)
    assert (quiet.events, len(loud.events)) == ([], 1)


def test_only_handlers_above_the_event_level_means_nothing_is_made() -> None:
    quiet = Direct(logging.ERROR)
    assert _route([quiet]) == (0, 0)


def test_an_exception_event_keeps_its_traceback_on_the_standard_path() -> None:
    shipper = Direct()
    with attached(shipper):
        Client(raise_request_exception=False).get("/boom/")
    assert shipper.events == []
    assert len(shipper.records) == 1
    assert shipper.records[0].exc_info is not None


@pytest.mark.parametrize("path", ["/hello/", "/missing/", "/json-secret/?token=abc&q=1"])
def test_the_worker_makes_the_record_the_standard_path_makes(path: str) -> None:
    shipper = Direct()
    with attached(shipper):
        Client(HTTP_X_FORWARDED_FOR="203.0.113.9").post(
            path, data=b'{"password": "x", "a": 1}', content_type="application/json"
        )
    (event,) = shipper.events
    assert is_frozen(event)
    ours = thaw(event)
    assert ours is not None
    facts = ours.reqlog  # type: ignore[attr-defined]
    standard = make_record(
        LOGGER,
        ours.levelno,
        EventMessage(facts),
        None,
        {"reqlog": facts, "event_id": facts.event_id, "request_id": facts.request_id},
        pathname=middleware._SITE[1],
        lineno=middleware._SITE[2],
    )
    ours_attrs, standard_attrs = vars(ours), vars(standard)
    assert set(ours_attrs) == set(standard_attrs)
    timing = {"created", "msecs", "relativeCreated"}
    for name in sorted(set(ours_attrs) - timing - {"msg"}):
        assert ours_attrs[name] == standard_attrs[name], name
    assert ours.getMessage() == standard.getMessage()
    assert (ours.thread, ours.threadName) == (threading.get_ident(), "MainThread")
    assert abs(ours.created - standard.created) < 60
    assert ours.filename == "middleware.py"
    assert ours.funcName == "_emit"


def _drop_volatile(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    for key in ("@timestamp", "event_id", "request_id", "span", "transaction"):
        doc.pop(key, None)
    for key in ("duration", "start", "end", "id"):
        doc.get("event", {}).pop(key, None)
    doc.get("http", {}).get("request", {}).pop("id", None)
    for key in ("duration_ns", "duration_ms", "slow", "event_start", "event_end"):
        doc.pop(key, None)
    for key in ("span_id", "transaction_id"):
        doc.pop(key, None)
    return doc


@pytest.mark.parametrize("formatter", [LogstashFormatter, ECSFormatter])
def test_direct_and_standard_events_format_to_the_same_json(
    formatter: type[logging.Formatter],
) -> None:
    """The same request, once each way: equal JSON but for IDs and timings."""
    shipper = Direct()
    with attached(shipper):
        for _ in range(2):
            Client().post(
                "/json-secret/?q=1",
                data=b'{"password": "hunter2", "card": "4111 1111 1111 1111"}',
                content_type="application/json",
                HTTP_USER_AGENT="equal-test",
            )
        LOGGER.addFilter(_keep_all)  # the second request takes the standard path
        try:
            Client().post(
                "/json-secret/?q=1",
                data=b'{"password": "hunter2", "card": "4111 1111 1111 1111"}',
                content_type="application/json",
                HTTP_USER_AGENT="equal-test",
            )
        finally:
            LOGGER.removeFilter(_keep_all)
    assert len(shipper.events) == 2 and len(shipper.records) == 1
    direct = thaw(shipper.events[0])
    standard = thaw(freeze(shipper.records[0]))
    assert direct is not None and standard is not None
    fmt = formatter()
    direct_doc, standard_doc = (
        _drop_volatile(fmt.format(direct)),
        _drop_volatile(fmt.format(standard)),
    )
    assert direct_doc == standard_doc
    text = fmt.format(direct)
    assert "hunter2" not in text and "4111 1111" not in text


def test_a_logstash_handler_ships_direct_events(tmp_path: Path) -> None:
    receiver = TCPReceiver().start()
    handler = LogstashHandler(
        "127.0.0.1",
        receiver.port,
        spool_dir=str(tmp_path / "spool"),
        flush_interval=0.05,
        metrics_interval=None,
    )
    try:
        with attached(handler, logging.INFO):
            for i in range(20):
                Client().get(f"/hello/{i}/")
        assert wait_for(lambda: len(receiver.lines) == 20)
        events = receiver.events()
        assert sorted(e["request_path"] for e in events) == sorted(
            f"/hello/{i}/" for i in range(20)
        )
        assert handler.metrics.queued == 20
        assert {e["logger_name"] for e in events} == {"django_reqlog"}
        assert all(re.fullmatch(r"[0-9a-f]{32}", e["event_id"]) for e in events)
    finally:
        handler.close()
        receiver.stop()


def test_a_closed_shipper_counts_direct_events_as_dropped(tmp_path: Path) -> None:
    handler = LogstashHandler(
        "127.0.0.1", 9, spool_dir=str(tmp_path / "spool"), metrics_interval=None
    )
    handler.close()
    with attached(handler, logging.INFO):
        Client().get("/hello/")
    assert handler.metrics.dropped == 1


def test_sync_async_and_direct_calls_all_go_direct() -> None:
    shipper = Direct()
    with attached(shipper):
        Client().get("/hello/")
        factory_request = RequestFactory().get("/hello/")
        RequestLogMiddleware(lambda request: _ok())(factory_request)
        import asyncio

        asyncio.run(AsyncClient().get("/async/"))
    assert len(shipper.events) == 3
    assert shipper.records == []
    assert [thaw(e).reqlog.path for e in shipper.events] == [  # type: ignore[union-attr]
        "/hello/",
        "/hello/",
        "/async/",
    ]


def _ok() -> Any:
    from django.http import HttpResponse

    return HttpResponse("ok")


def test_a_disabled_logger_gets_nothing_either_way() -> None:
    shipper = Direct()
    LOGGER.disabled = True
    try:
        assert _route([shipper]) == (0, 0)
    finally:
        LOGGER.disabled = False


def test_a_logger_disabled_while_a_stream_is_sent_gets_nothing() -> None:
    """A streamed response's event is emitted when the stream closes; if the
    logger was disabled meanwhile, neither path delivers it."""
    shipper = Direct()
    with attached(shipper):
        response = Client().get("/stream/")
        LOGGER.disabled = True
        try:
            # The test client closes the response once its content is read.
            b"".join(response.streaming_content)  # type: ignore[attr-defined]
        finally:
            LOGGER.disabled = False
    assert (shipper.events, shipper.records) == ([], [])
