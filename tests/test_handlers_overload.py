"""Request events queued as flat tuples, and stashed unformatted when the
worker cannot keep up: they come out formatted exactly as they would have."""

from __future__ import annotations

import collections
import dataclasses
import gc
import json
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from django_reqlog._record import make_record
from django_reqlog.event import EventMessage, RequestFacts
from django_reqlog.formatters import ECSFormatter, LogstashFormatter
from django_reqlog.frozen import freeze, thaw
from django_reqlog.handlers import LogstashHandler
from django_reqlog.handlers.bounded_queue import BoundedQueue
from django_reqlog.handlers.metrics import ShipperMetrics
from django_reqlog.handlers.queue_worker import Worker
from tests.handlers_support import HTTPReceiver, wait_for


def _facts(n: int = 0) -> RequestFacts:
    return RequestFacts(
        event_id=f"{n:032x}", request_id=f"req-{n}", started_at=1_700_000_000.0 + n,
        method="POST", scheme="https", host="api.example.com:8443", path=f"/api/items/{n}/",
        query_string="token=s3cret&page=2", http_version="HTTP/1.1", remote_addr="10.0.0.7",
        forwarded_for="203.0.113.9", user_agent="pytest", referer="https://a.example/?code=x",
        content_type="application/json", content_length=48, content_encoding="",
        headers=[("host", "api.example.com:8443"), ("authorization", "Bearer abcdefghijkl")],
        body_prefix=b'{"password": "hunter2x", "items": [1, 2, 3], "n": 4}', body_bytes=48,
        route="api/items/<int:n>/", view="items", status=201, user_id="7", username="alice",
        response_content_type="application/json", response_bytes=11, duration_ns=1_500_000,
    )  # fmt: skip


def _request_record(n: int = 0) -> logging.LogRecord:
    facts = _facts(n)
    logger = logging.getLogger("django_reqlog")
    extra = {"reqlog": facts, "event_id": facts.event_id, "request_id": facts.request_id}
    return make_record(
        logger, logging.INFO, EventMessage(facts), None, extra, pathname=__file__, lineno=1
    )


def _twin(record: logging.LogRecord) -> logging.LogRecord:
    """The same record with facts of its own (formatting caches fields on the facts)."""
    facts = dataclasses.replace(record.reqlog)  # type: ignore[attr-defined]
    twin = logging.makeLogRecord(dict(record.__dict__))
    twin.reqlog, twin.msg = facts, EventMessage(facts)  # type: ignore[attr-defined]
    return twin


@pytest.mark.parametrize("formatter", [ECSFormatter(), LogstashFormatter(tags=["t"])])
def test_a_frozen_event_formats_exactly_like_the_record(formatter: logging.Formatter) -> None:
    original = _request_record(3)
    expected = formatter.format(_twin(original))
    frozen = freeze(original)
    assert isinstance(frozen, tuple)
    back = thaw(frozen)
    assert back is not None
    assert formatter.format(back) == expected
    assert back.reqlog.headers == original.reqlog.headers  # type: ignore[attr-defined]


def test_a_queued_event_is_not_tracked_by_the_garbage_collector() -> None:
    frozen = freeze(_request_record(1))  # with headers: a list before freezing
    # A tuple is untracked once everything in it is; nested ones may take a
    # collection per level. A list or dict anywhere inside would keep it tracked.
    for _ in range(5):
        gc.collect()
    assert not gc.is_tracked(frozen)


@pytest.mark.parametrize(
    "record",
    [
        logging.LogRecord("app", logging.INFO, __file__, 1, "plain %s", ("log",), None),
        # A traceback stays with its record.
        logging.LogRecord("app", logging.ERROR, __file__, 1, "boom", (), (ValueError, None, None)),
    ],
)
def test_other_records_are_queued_as_they_are(record: logging.LogRecord) -> None:
    assert freeze(record) is record
    assert thaw(record) is record


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


class _CountingDeque(collections.deque):  # type: ignore[type-arg]
    appended = 0

    def append(self, obj: Any) -> None:
        type(self).appended += 1
        super().append(obj)


def test_a_nearly_full_queue_is_stashed_and_delivered_formatted(
    handler_factory: Callable[..., LogstashHandler],
) -> None:
    gate = threading.Event()
    receiver = HTTPReceiver(gate=gate)
    try:
        handler = handler_factory(
            receiver.port, queue_size=40, batch_size=5, flush_interval=0.05, timeout=30.0
        )
        handler._worker.stash = _CountingDeque()
        records = [_request_record(n) for n in range(40)]
        expected = {r.event_id: json.loads(handler.format(_twin(r))) for r in records}  # type: ignore[attr-defined]
        handler.handle(records[0])
        assert wait_for(lambda: receiver.arrived == 1)  # that send now hangs at the gate
        for record in records[1:]:
            handler.handle(record)
        assert wait_for(handler._queue.empty)
        assert _CountingDeque.appended > 0, "the worker never stashed an event"
        gate.set()
        assert handler.wait_idle(30)
        assert handler.metrics.dropped == 0 and handler.metrics.failed == 0
        events = receiver.events
        assert sorted(e["event_id"] for e in events) == sorted(expected)
        for event in events:
            assert event == expected[event["event_id"]]
        # In the order they were logged, the stash notwithstanding.
        assert [e["event_id"] for e in events] == [r.event_id for r in records]  # type: ignore[attr-defined]
    finally:
        gate.set()
        receiver.stop()


def test_the_stash_is_bounded_and_counts_what_it_drops(
    handler_factory: Callable[..., LogstashHandler],
) -> None:
    receiver = HTTPReceiver()
    try:
        options = handler_factory(receiver.port).options
        records = BoundedQueue(8)
        metrics = ShipperMetrics()
        # A worker that is never started: only its bookkeeping is looked at.
        worker = Worker(
            name="stash-test",
            records=records,
            format_record=logging.Formatter().format,
            transport_factory=lambda: None,  # type: ignore[arg-type,return-value]
            store=None,  # type: ignore[arg-type]
            metrics=metrics,
            options=options,
            target="nowhere",
        )
        frozen = [freeze(_request_record(n)) for n in range(20)]
        for obj in frozen[:5]:
            records.put_nowait(obj)
        assert not worker._overloaded() and not worker._stash(frozen[5])
        records.put_nowait(frozen[5])  # 6 of 8: three quarters
        assert worker._overloaded()
        plain = logging.LogRecord("app", logging.INFO, __file__, 1, "not a request", (), None)
        assert not worker._stash(plain)  # only request events are stashed
        for obj in frozen[6:]:
            assert worker._stash(obj)
        assert list(worker.stash) == frozen[-8:]  # at most queue_size; the oldest went first
        assert metrics.dropped == 14 - 8
    finally:
        receiver.stop()
