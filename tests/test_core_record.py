"""The request event's LogRecord (django_reqlog._record): the same attributes,
filled in the same way, as one made by ``Logger.log``; custom factories honoured."""

from __future__ import annotations

import logging
import os
import threading

import pytest
from django.test import Client

from django_reqlog._record import RequestRecord, make_record
from tests.logging_support import KeepRecords, attached, tenant_record_factory


def _by_stdlib(logger: logging.Logger, level: int) -> logging.LogRecord:
    keep = KeepRecords()
    logger.addHandler(keep)
    try:
        logger.log(level, "hello", extra={"event_id": "e1"})
    finally:
        logger.removeHandler(keep)
    return keep.records[0]


@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING, logging.ERROR])
def test_same_attributes_as_a_standard_record(level: int) -> None:
    logger = logging.getLogger("reqlog.test.record")
    logger.setLevel(logging.DEBUG)
    standard = _by_stdlib(logger, level)
    ours = make_record(
        logger, level, "hello", None, {"event_id": "e1"}, pathname=__file__, lineno=42
    )
    assert isinstance(ours, logging.LogRecord)
    # Formatters add message (and asctime) once a handler formats the record.
    assert set(vars(ours)) == set(vars(standard)) - {"message", "asctime"}
    for name in (
        "name",
        "levelno",
        "levelname",
        "msg",
        "args",
        "exc_info",
        "exc_text",
        "stack_info",
        "process",
        "processName",
        "thread",
        "threadName",
        "event_id",
    ):
        assert getattr(ours, name) == getattr(standard, name), name
    assert (ours.pathname, ours.filename, ours.module, ours.lineno, ours.funcName) == (
        __file__,
        os.path.basename(__file__),
        "test_core_record",
        42,
        "_emit",
    )
    assert abs(ours.created - standard.created) < 5
    assert ours.msecs == int((ours.created % 1) * 1000)
    assert ours.getMessage() == "hello"


def test_thread_is_the_callers() -> None:
    logger = logging.getLogger("reqlog.test.record")
    seen: list[logging.LogRecord] = []

    def run() -> None:
        seen.append(make_record(logger, logging.INFO, "m", None, {}, pathname="x.py", lineno=1))

    worker = threading.Thread(target=run, name="reqlog-test-thread")
    worker.start()
    worker.join()
    assert seen[0].threadName == "reqlog-test-thread"
    assert seen[0].thread == worker.ident


def test_a_custom_record_factory_is_honoured() -> None:
    with tenant_record_factory():
        logger = logging.getLogger("reqlog.test.record")
        record = make_record(
            logger, logging.INFO, "m", None, {"event_id": "e2"}, pathname="x.py", lineno=7
        )
    assert not isinstance(record, RequestRecord)
    assert record.tenant == "acme"  # type: ignore[attr-defined]
    assert (record.event_id, record.lineno, record.funcName) == ("e2", 7, "_emit")  # type: ignore[attr-defined]


def test_middleware_events_point_at_the_middleware() -> None:
    keep = KeepRecords()
    with attached(keep):
        Client().get("/hello/")
    assert len(keep.records) == 1
    record = keep.records[0]
    assert record.filename == "middleware.py"
    assert record.funcName == "_emit"
    assert record.lineno > 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_records_its_own_pid() -> None:
    """The pid is cached (os.getpid is a system call), and refreshed in a child."""
    from django_reqlog._record import origin

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            recorded = origin(logging.INFO)[4]
            os.write(write_end, f"{recorded} {os.getpid()}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    recorded, actual = os.read(read_end, 100).decode().split()
    os.close(read_end)
    assert recorded == actual == str(pid)
    assert origin(logging.INFO)[4] == os.getpid()
