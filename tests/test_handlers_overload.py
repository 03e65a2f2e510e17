"""Request events queued as flat tuples: they come out formatted exactly as
they would have. The queue holds ``queue_size`` events, no more: past it,
events are dropped, counted and reported on stderr."""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from django_reqlog import _stderr
from django_reqlog._record import make_record
from django_reqlog.event import EventMessage, RequestFacts
from django_reqlog.formatters import ECSFormatter, LogstashFormatter
from django_reqlog.frozen import freeze, thaw
from django_reqlog.handlers import LogstashHandler
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


class GatedFormatter(LogstashFormatter):
    """Formats only once ``gate`` is set: a worker that cannot keep up."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__()
        self.gate = gate

    def format(self, record: logging.LogRecord) -> str:
        self.gate.wait()
        return super().format(record)


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
