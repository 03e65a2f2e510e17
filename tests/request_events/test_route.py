"""One route: the middleware hands each request's record to ``logging`` like
any library (``Logger.log``), and shippers queue a copy of it.

Whatever ``logging`` lets a user do to a record (logger and handler filters,
a record factory, levels, propagation, disabling) applies to request records
as to any other, whichever handlers listen. A shipper's worker formats the
same record another handler got.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, RequestFactory

from django_reqlog import middleware
from django_reqlog.formatters import ECSFormatter, LogstashFormatter
from django_reqlog.handlers import LogstashHandler
from django_reqlog.middleware import RequestLogMiddleware
from tests.helpers.log_capture import KeepRecords, attached, tenant_record_factory
from tests.helpers.shipping import HTTPReceiver, TCPReceiver
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.django_db

LOGGER = logging.getLogger("django_reqlog")


@pytest.fixture
def shipper(tmp_path: Path) -> Iterator[Callable[..., tuple[LogstashHandler, HTTPReceiver]]]:
    """A LogstashHandler (HTTP transport) and the receiver it sends to."""
    made: list[tuple[LogstashHandler, HTTPReceiver]] = []

    def make(**options: Any) -> tuple[LogstashHandler, HTTPReceiver]:
        receiver = HTTPReceiver()
        handler = LogstashHandler(
            "127.0.0.1",
            receiver.port,
            "http",
            spool_dir=str(tmp_path / f"spool-{len(made)}"),
            flush_interval=0.05,
            metrics_interval=None,
            **options,
        )
        made.append((handler, receiver))
        return handler, receiver

    yield make
    for handler, receiver in made:
        handler.close()
        receiver.stop()


def test_every_request_record_goes_through_logger_handle(
    shipper: Callable[..., tuple[LogstashHandler, HTTPReceiver]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also when a shipper is the only handler listening."""
    handled: list[logging.LogRecord] = []
    original = logging.Logger.handle

    def spy(self: logging.Logger, record: logging.LogRecord) -> None:
        if self is LOGGER:
            handled.append(record)
        original(self, record)

    monkeypatch.setattr(logging.Logger, "handle", spy)
    handler, receiver = shipper()
    with attached(handler, logging.INFO):
        Client().get("/hello/")
        assert handler.wait_idle(30)
    assert [r.reqlog.path for r in handled] == ["/hello/"]  # type: ignore[attr-defined]
    assert [e["request_path"] for e in receiver.events] == ["/hello/"]


@pytest.mark.parametrize("formatter", [LogstashFormatter, ECSFormatter])
def test_the_worker_formats_the_record_other_handlers_get(
    shipper: Callable[..., tuple[LogstashHandler, HTTPReceiver]],
    formatter: type[logging.Formatter],
) -> None:
    """The same request, shipped and kept: byte for byte the same JSON."""
    handler, receiver = shipper()
    handler.setFormatter(formatter())
    keep = KeepRecords()
    with attached(handler, logging.INFO):
        LOGGER.addHandler(keep)
        try:
            for path in ("/json-secret/?token=abc&q=1", "/missing/"):
                Client(HTTP_X_FORWARDED_FOR="203.0.113.9").post(
                    path,
                    data=b'{"password": "hunter2", "card": "4111 1111 1111 1111"}',
                    content_type="application/json",
                )
            assert handler.wait_idle(30)
        finally:
            LOGGER.removeHandler(keep)
    assert len(keep.records) == 2
    expected = [json.loads(formatter().format(r)) for r in keep.records]
    assert receiver.events == expected
    assert "hunter2" not in json.dumps(receiver.events)


def test_a_logger_filter_sees_the_request_record() -> None:
    seen: list[logging.LogRecord] = []

    def keep_all(record: logging.LogRecord) -> bool:
        seen.append(record)
        return True

    keep = KeepRecords()
    LOGGER.addFilter(keep_all)
    try:
        with attached(keep):
            Client().get("/hello/")
    finally:
        LOGGER.removeFilter(keep_all)
    assert seen == keep.records
    assert seen[0].reqlog.path == "/hello/"  # type: ignore[attr-defined]


def test_a_filter_can_drop_the_request_record(
    shipper: Callable[..., tuple[LogstashHandler, HTTPReceiver]],
) -> None:
    handler, receiver = shipper()
    handler.addFilter(lambda record: record.reqlog.path != "/hello/")  # type: ignore[attr-defined]
    with attached(handler, logging.INFO):
        Client().get("/hello/")
        Client().get("/missing/")
        assert handler.wait_idle(30)
    assert [e["request_path"] for e in receiver.events] == ["/missing/"]
    assert handler.metrics.queued == 1


def test_a_record_factory_makes_the_request_record(
    shipper: Callable[..., tuple[LogstashHandler, HTTPReceiver]],
) -> None:
    handler, receiver = shipper()
    keep = KeepRecords()
    with tenant_record_factory(), attached(handler, logging.INFO):
        LOGGER.addHandler(keep)
        try:
            Client().get("/hello/")
            assert handler.wait_idle(30)
        finally:
            LOGGER.removeHandler(keep)
    assert keep.records[0].tenant == "acme"  # type: ignore[attr-defined]
    assert "acme" in json.dumps(receiver.events[0])  # an extra attribute, shipped too


def test_the_record_says_where_and_on_which_thread_it_was_made() -> None:
    keep = KeepRecords()
    with attached(keep):
        Client().get("/hello/")
    (record,) = keep.records
    assert (record.name, record.filename, record.funcName) == (
        "django_reqlog",
        "middleware.py",
        "_emit",
    )
    assert record.pathname == middleware.__file__
    assert record.lineno > 0
    assert (record.thread, record.threadName) == (
        threading.get_ident(),
        threading.current_thread().name,
    )


def test_propagation_reaches_a_root_handler() -> None:
    root = logging.getLogger()
    plain = KeepRecords()
    saved = root.handlers[:]
    root.handlers[:] = [plain]
    try:
        with attached(KeepRecords()) as own:
            LOGGER.propagate = True
            Client().get("/hello/")
    finally:
        root.handlers[:] = saved
    assert len(own.records) == 1
    assert plain.records == own.records


def test_a_handler_above_the_event_level_gets_nothing() -> None:
    quiet, loud = KeepRecords(logging.WARNING), KeepRecords()
    with attached(quiet):
        LOGGER.addHandler(loud)
        try:
            Client().get("/hello/")
            Client().get("/missing/")
        finally:
            LOGGER.removeHandler(loud)
    assert [r.levelno for r in loud.records] == [logging.INFO, logging.WARNING]
    assert [r.levelno for r in quiet.records] == [logging.WARNING]


def test_an_exception_event_carries_its_traceback(
    shipper: Callable[..., tuple[LogstashHandler, HTTPReceiver]],
) -> None:
    handler, receiver = shipper()
    keep = KeepRecords()
    with attached(handler, logging.INFO):
        LOGGER.addHandler(keep)
        try:
            Client(raise_request_exception=False).get("/boom/")
            assert handler.wait_idle(30)
        finally:
            LOGGER.removeHandler(keep)
    (record,) = keep.records
    assert record.exc_info is not None and record.exc_info[0] is not None
    (event,) = receiver.events
    assert event["status"] == 500
    assert "Traceback" in event["stack_trace"]


def _ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def test_sync_async_and_direct_calls_each_make_one_record() -> None:
    keep = KeepRecords()
    with attached(keep):
        Client().get("/hello/")
        RequestLogMiddleware(_ok)(RequestFactory().get("/direct/"))
        asyncio.run(AsyncClient().get("/async/"))
    assert [r.reqlog.path for r in keep.records] == ["/hello/", "/direct/", "/async/"]  # type: ignore[attr-defined]


def test_a_disabled_logger_gets_nothing() -> None:
    keep = KeepRecords()
    with attached(keep):
        LOGGER.disabled = True
        try:
            Client().get("/hello/")
        finally:
            LOGGER.disabled = False
    assert keep.records == []


def test_a_logger_disabled_while_a_stream_is_sent_gets_nothing() -> None:
    """A streamed response's event is emitted when the stream closes; if the
    logger was disabled meanwhile, it is not delivered."""
    keep = KeepRecords()
    with attached(keep):
        response = Client().get("/stream/")
        LOGGER.disabled = True
        try:
            # The test client closes the response once its content is read.
            b"".join(response.streaming_content)  # type: ignore[attr-defined]
        finally:
            LOGGER.disabled = False
    assert keep.records == []


def test_a_level_raised_while_a_stream_is_sent_means_nothing_is_made() -> None:
    keep = KeepRecords()
    with attached(keep, logging.INFO):
        response = Client().get("/stream/")
        LOGGER.setLevel(logging.ERROR)
        b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert keep.records == []


def test_a_logstash_handler_ships_request_events_over_tcp(tmp_path: Path) -> None:
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
    finally:
        handler.close()
        receiver.stop()


def test_a_closed_shipper_counts_request_events_as_dropped(tmp_path: Path) -> None:
    handler = LogstashHandler(
        "127.0.0.1", 9, spool_dir=str(tmp_path / "spool"), metrics_interval=None
    )
    handler.close()
    with attached(handler, logging.INFO):
        Client().get("/hello/")
    assert handler.metrics.dropped == 1
