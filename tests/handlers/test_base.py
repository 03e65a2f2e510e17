"""What a shipper queues: a copy of each record's attributes, made into a
record again on the worker with ``logging.makeLogRecord``. It formats exactly
like the record; the record itself, shared with other handlers, is never
changed by the shipper once ``emit()`` returned, and a traceback is let go as
soon as the event is formatted. The queue holds ``queue_size`` events, no
more: past it, events are dropped, counted and reported on stderr."""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import re
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from django_reqlog import _stderr
from django_reqlog.context import RequestContext, _current
from django_reqlog.formatters import ECSFormatter, LogstashFormatter
from django_reqlog.handlers import LogstashHandler
from django_reqlog.handlers.base import _queued
from django_reqlog.request_facts import RequestFacts, record_extra
from django_reqlog.request_fields import EventMessage
from tests.helpers.request_facts import facts_with
from tests.helpers.shipping import HTTPReceiver
from tests.helpers.waiting import wait_for


def _facts(n: int = 0) -> RequestFacts:
    return facts_with(
        event_id=f"{n:032x}", request_id=f"req-{n}", started_at=1_700_000_000.0 + n,
        host="api.example.com:8443", path=f"/api/items/{n}/",
        query_string="token=s3cret&page=2", remote_addr="10.0.0.7",
        forwarded_for="203.0.113.9", user_agent="pytest", referer="https://a.example/?code=x",
        content_type="application/json", content_length=48,
        headers=[("host", "api.example.com:8443"), ("authorization", "Bearer abcdefghijkl")],
        body_prefix=b'{"password": "hunter2x", "items": [1, 2, 3], "n": 4}', body_bytes=48,
        route="api/items/<int:n>/", view="items", status=201, user_id="7", username="alice",
        response_content_type="application/json", response_bytes=11, duration_ns=1_500_000,
    )  # fmt: skip


def _request_record(n: int = 0) -> logging.LogRecord:
    """A request record, made the way the middleware makes it (``Logger.log``)."""
    facts = _facts(n)
    logger = logging.getLogger("django_reqlog")
    return logger.makeRecord(
        logger.name, logging.INFO, __file__, 1, EventMessage(facts), (), None, "_emit",
        record_extra(facts),
    )  # fmt: skip


def _twin(record: logging.LogRecord) -> logging.LogRecord:
    """The same record with facts of its own (formatting caches fields on the facts)."""
    facts = dataclasses.replace(record.reqlog)  # type: ignore[attr-defined]
    twin = logging.makeLogRecord(dict(record.__dict__))
    twin.reqlog, twin.msg = facts, EventMessage(facts)  # type: ignore[attr-defined]
    return twin


def _raised() -> Any:
    try:
        raise ValueError("boom with token=s3cret")
    except ValueError:
        return sys.exc_info()


@pytest.mark.parametrize("formatter", [ECSFormatter(), LogstashFormatter(tags=["t"])])
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: _request_record(3), id="request"),
        pytest.param(
            lambda: logging.LogRecord("app", logging.INFO, __file__, 1, "plain %s", ("x",), None),
            id="plain",
        ),
        pytest.param(
            lambda: logging.LogRecord("app", logging.ERROR, __file__, 1, "boom", (), _raised()),
            id="traceback",
        ),
    ],
)
def test_a_queued_record_formats_exactly_like_the_record(
    formatter: logging.Formatter, make: Callable[[], logging.LogRecord]
) -> None:
    original = make()
    expected = formatter.format(_twin(original) if hasattr(original, "reqlog") else original)
    back = logging.makeLogRecord(_queued(original))
    assert formatter.format(back) == expected


@pytest.fixture
def handler_factory(tmp_path: Path) -> Iterator[Callable[..., LogstashHandler]]:
    made: list[LogstashHandler] = []

    def make(port: int, **options: Any) -> LogstashHandler:
        handler = LogstashHandler(
            "127.0.0.1",
            port,
            "http",
            spool_dir=str(tmp_path / "spool"),
            retry_initial=0.05,
            retry_max=0.2,
            metrics_interval=None,
            **options,
        )
        made.append(handler)
        return handler

    yield make
    for handler in made:
        handler.close()


class GatedFormatter(LogstashFormatter):
    """Formats only once ``gate`` is set: a worker that cannot keep up."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__()
        self.gate = gate

    def format(self, record: logging.LogRecord) -> str:
        self.gate.wait()
        return super().format(record)


def test_the_shared_record_is_left_as_it_was(
    handler_factory: Callable[..., LogstashHandler],
) -> None:
    """After ``emit()`` the shipper never touches the record again, and what
    a later handler does to it does not reach the shipped event."""
    gate = threading.Event()
    receiver = HTTPReceiver()
    try:
        handler = handler_factory(receiver.port, flush_interval=0.05)
        handler.setFormatter(GatedFormatter(gate))
        record = logging.LogRecord("app", logging.INFO, __file__, 1, "as %s", ("logged",), None)
        token = _current.set(RequestContext("req-7"))
        try:
            handler.handle(record)
        finally:
            _current.reset(token)
        after_emit = dict(vars(record))
        # Set by emit() itself, on purpose: every handler ships the same ids.
        assert after_emit["request_id"] == "req-7" and after_emit["event_id"]
        record.msg, record.args = "changed by a later handler %s", ("!",)
        changed = dict(vars(record))
        gate.set()
        assert handler.wait_idle(30)
        (event,) = receiver.events
        assert (event["message"], event["request_id"]) == ("as logged", "req-7")
        assert event["event_id"] == after_emit["event_id"]
        assert vars(record) == changed
    finally:
        gate.set()
        receiver.stop()


class _Locals:
    """Something a failing function's frame holds (a weakref can follow it)."""


def _failing_record() -> tuple[logging.LogRecord, weakref.ref[_Locals]]:
    held = _Locals()
    try:
        raise ValueError(f"failed with {held!r}")
    except ValueError:
        record = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    return record, weakref.ref(held)


def test_a_traceback_is_let_go_once_the_event_is_formatted(
    handler_factory: Callable[..., LogstashHandler],
) -> None:
    """The frames (and their locals) live until the worker has formatted the
    event, not until the batch is delivered."""
    gate = threading.Event()
    receiver = HTTPReceiver(gate=gate)  # holds the batch on the wire
    try:
        handler = handler_factory(receiver.port, flush_interval=0.05)
        record, frame_local = _failing_record()
        handler.handle(record)
        del record
        assert wait_for(lambda: receiver.arrived == 1)  # formatted and being sent
        gc.collect()
        assert frame_local() is None
        assert receiver.events == []  # not delivered yet
        gate.set()
        assert handler.wait_idle(30)
        (event,) = receiver.events
        assert "ValueError: failed with" in event["stack_trace"]
    finally:
        gate.set()
        receiver.stop()


def test_queue_size_is_the_bound_and_drops_are_reported_on_stderr(
    handler_factory: Callable[..., LogstashHandler], capfd: pytest.CaptureFixture[str]
) -> None:
    _stderr.reset()
    gate = threading.Event()
    receiver = HTTPReceiver()
    try:
        handler = handler_factory(receiver.port, queue_size=40, batch_size=10, flush_interval=0.05)
        handler.setFormatter(GatedFormatter(gate))
        records = [_request_record(n) for n in range(200)]
        expected = {r.event_id: json.loads(LogstashFormatter().format(_twin(r))) for r in records}  # type: ignore[attr-defined]
        handler.handle(records[0])
        assert wait_for(handler._queue.empty)  # the worker holds it, waiting to format it
        for record in records[1:]:
            handler.handle(record)
        # 40 in the queue and the one in the worker's hands; nothing else holds more.
        assert handler.metrics.queued == 41
        assert handler.metrics.dropped_by_reason() == {
            "queue full": 159, "spool cap": 0, "max age": 0, "memory cap": 0, "close": 0,
        }  # fmt: skip
        gate.set()
        assert handler.wait_idle(30)
        events = receiver.events
        assert [e["event_id"] for e in events] == [r.event_id for r in records[:41]]  # type: ignore[attr-defined]
        for event in events:
            assert event == expected[event["event_id"]]
        err = capfd.readouterr().err
        assert re.search(
            r"django-reqlog: \S+ -> http://127\.0\.0\.1:\d+: 159 events dropped since "
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(159 queue full\)\n",
            err,
        ), err
    finally:
        gate.set()
        receiver.stop()
