"""Request events queued as flat tuples, and spooled unformatted when the
worker cannot keep up: they come out formatted exactly as they would have."""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import marshal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from django_reqlog._record import make_record
from django_reqlog.event import EventMessage, RequestFacts
from django_reqlog.formatters import ECSFormatter, LogstashFormatter
from django_reqlog.handlers import LogstashHandler, queue_worker
from django_reqlog.handlers.frozen import (
    _FACT_NAMES,
    _UNFORMATTED,
    freeze,
    is_unformatted,
    record_from_payload,
    thaw,
    unformatted_payload,
)
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
@pytest.mark.parametrize("route", ["queue", "spool"])
def test_a_frozen_event_formats_exactly_like_the_record(
    formatter: logging.Formatter, route: str
) -> None:
    original = _request_record(3)
    expected = formatter.format(_twin(original))
    frozen = freeze(original)
    assert isinstance(frozen, tuple)
    if route == "queue":
        back = thaw(frozen)
    else:
        item = unformatted_payload(frozen)
        assert item is not None and item[0] == f"{3:032x}"
        assert is_unformatted(item[1])
        back = record_from_payload(item[1])
    assert back is not None
    assert formatter.format(back) == expected


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


def test_a_payload_from_another_version_reads_the_facts_this_one_knows() -> None:
    original = _request_record(2)
    expected = LogstashFormatter().format(_twin(original))
    frozen = freeze(original)
    assert isinstance(frozen, tuple)
    _, keys, values = frozen
    state = dict(zip(keys, values, strict=True))
    facts = dict(zip(_FACT_NAMES, state["reqlog"], strict=True))
    facts["added_in_a_later_version"] = "x"
    names = tuple(reversed(facts))
    state["reqlog"] = tuple(facts[name] for name in names)
    payload = _UNFORMATTED + marshal.dumps((tuple(state), tuple(state.values()), names))
    back = record_from_payload(payload)
    assert back.reqlog.path == "/api/items/2/"  # type: ignore[attr-defined]
    assert LogstashFormatter().format(back) == expected


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


def test_a_nearly_full_queue_is_spooled_unformatted_and_delivered_formatted(
    handler_factory: Callable[..., LogstashHandler], monkeypatch: pytest.MonkeyPatch
) -> None:
    taken_unformatted: list[str] = []
    original = queue_worker.unformatted_payload

    def spy(obj: Any) -> tuple[str, bytes] | None:
        item = original(obj)
        if item is not None:
            taken_unformatted.append(item[0])
        return item

    monkeypatch.setattr(queue_worker, "unformatted_payload", spy)
    gate = threading.Event()
    receiver = HTTPReceiver(gate=gate)
    try:
        handler = handler_factory(
            receiver.port, queue_size=40, batch_size=5, flush_interval=0.05, timeout=30.0
        )
        records = [_request_record(n) for n in range(40)]
        expected = {r.event_id: json.loads(handler.format(_twin(r))) for r in records}  # type: ignore[attr-defined]
        handler.handle(records[0])
        assert wait_for(lambda: receiver.arrived == 1)  # that send now hangs at the gate
        for record in records[1:]:
            handler.handle(record)
        assert wait_for(handler._queue.empty)
        assert taken_unformatted, "the worker never took the overload path"
        gate.set()
        assert handler.wait_idle(30)
        assert handler.metrics.dropped == 0 and handler.metrics.failed == 0
        events = receiver.events
        assert sorted(e["event_id"] for e in events) == sorted(expected)
        for event in events:
            assert event == expected[event["event_id"]]
    finally:
        gate.set()
        receiver.stop()


def test_an_unreadable_unformatted_payload_is_counted_and_replaced(
    handler_factory: Callable[..., LogstashHandler],
) -> None:
    receiver = HTTPReceiver()
    try:
        handler = handler_factory(receiver.port)
        worker = handler._worker
        event_id, payload = worker._ready("e1", _UNFORMATTED + b"not marshal data")
        assert event_id == "e1"
        assert json.loads(payload) == {
            "message": "django-reqlog: a spooled event could not be read back",
            "event_id": "e1",
        }
        assert handler.metrics.failed == 1
        assert worker._ready("e2", b'{"a": 1}') == ("e2", b'{"a": 1}')
    finally:
        receiver.stop()
