"""LogstashHandler against loopback TCP, UDP and HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import functools
import io
import json
import logging
import logging.config
import os
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from django_reqlog import formatters, request_fields
from django_reqlog.context import RequestContext, _current
from django_reqlog.formatters import ECSFormatter, LogstashFormatter
from django_reqlog.handlers import LogstashHandler, shipper_handlers
from django_reqlog.handlers.status import directory_status
from django_reqlog.request_facts import RequestFacts
from tests.helpers.handlers import Shippers, record
from tests.helpers.request_facts import facts_with
from tests.helpers.shipping import HTTPReceiver, TCPReceiver, UDPReceiver, make_tls_files
from tests.helpers.waiting import free_port, wait_for


@pytest.fixture
def make_handler(shippers: Shippers) -> Callable[..., LogstashHandler]:
    """``make_handler(host, port, transport="tcp", **options)``."""
    return functools.partial(shippers.make, LogstashHandler)


def test_tcp_json_lines_arrive_with_the_python_logstash_envelope(make_handler: Any) -> None:
    receiver = TCPReceiver().start()
    handler = make_handler("127.0.0.1", receiver.port)
    for i in range(50):
        handler.handle(record(f"event {i}"))
    assert wait_for(lambda: len(receiver.lines) == 50)
    events = receiver.events()
    assert [e["message"] for e in events] == [f"event {i}" for i in range(50)]
    assert {
        "@timestamp",
        "@version",
        "host",
        "path",
        "tags",
        "type",
        "level",
        "logger_name",
    } <= set(events[0])
    assert len({e["event_id"] for e in events}) == 50
    assert handler.metrics.snapshot()["sent"] == 50
    receiver.stop()


def test_emit_sets_an_event_id_only_when_missing(make_handler: Any) -> None:
    handler = make_handler("127.0.0.1", free_port())
    mine = record("has id", event_id="abc123")
    other = record("no id")
    handler.handle(mine)
    handler.handle(other)
    assert mine.event_id == "abc123"
    assert isinstance(other.event_id, str)
    assert len(other.event_id) == 32


def test_tcp_sink_down_then_up_delivers_everything_once_in_order(make_handler: Any) -> None:
    port = free_port()
    handler = make_handler("127.0.0.1", port)
    for i in range(300):
        handler.handle(record(f"event {i}"))
    assert wait_for(lambda: handler.metrics.spooled >= 300)
    assert handler.metrics.sent == 0
    receiver = TCPReceiver(port).start()
    assert wait_for(lambda: len(receiver.lines) >= 300)
    assert handler.wait_idle(30)
    messages = [e["message"] for e in receiver.events()]
    assert messages == [f"event {i}" for i in range(300)]
    metrics = handler.metrics.snapshot()
    assert metrics["sent"] == 300
    assert metrics["dropped"] == metrics["failed"] == 0
    assert metrics["spool_bytes"] == 0
    receiver.stop()


def test_stalled_tcp_sink_never_blocks_emit(make_handler: Any) -> None:
    """The receiver accepts and never reads: the worker blocks, emit() must not."""
    receiver = TCPReceiver(mode="stall").start()
    handler = make_handler("127.0.0.1", receiver.port, queue_size=500, timeout=2.0)
    total = 20_000
    big = "x" * 2000
    for i in range(total):
        handler.handle(record(f"{i} {big}"))
    metrics = handler.metrics.snapshot()
    # Every emit returned; each event was either queued or counted as dropped.
    assert metrics["queued"] + metrics["dropped"] == total
    assert metrics["dropped"] > 0
    # close() breaks the stuck send; nothing is unaccounted for. (Over TCP the
    # kernel buffers of each new connection swallow megabytes, so "sent" can
    # include events the peer never read: the reason the http transport exists.)
    handler.close()
    after = handler.metrics.snapshot()
    backlog = sum(p["backlog"] for p in directory_status(handler.spool_dir))
    assert after["sent"] + backlog == after["queued"]
    receiver.stop()


@pytest.mark.parametrize("transport", ["http", "tcp"])
def test_a_stuck_send_does_not_stop_the_queue_draining(make_handler: Any, transport: str) -> None:
    """While one send hangs on a stalled sink, the worker keeps taking records
    off a small queue and spools them: a steady stream is never dropped."""
    stalled = TCPReceiver(mode="stall").start()  # accepts, never reads, never answers
    handler = make_handler(
        "127.0.0.1",
        stalled.port,
        transport,
        queue_size=100,
        batch_size=50,
        timeout=60.0,
        close_timeout=1.0,
    )
    payload = "y" * 16_000  # over TCP: 24 MB, more than loopback buffers hold
    total = 0
    for burst in range(30):
        for i in range(50):
            handler.handle(record(f"s {burst}-{i} {payload}"))
            total += 1
        threading.Event().wait(0.05)
    worker = handler._worker

    def accounted() -> int:
        metrics = handler.metrics
        return metrics.sent + metrics.backlog + len(worker.pending) + len(worker.in_flight)

    # Every event is sent (over TCP the kernel buffers take some before the
    # send blocks), in the stuck batch, held in memory or spooled.
    assert wait_for(lambda: handler._queue.empty() and accounted() == total)
    metrics = handler.metrics.snapshot()
    assert metrics["dropped"] == 0
    assert metrics["queued"] == total
    # The send is still stuck (timeout 60 s); a few batches wait in memory
    # behind it, and the rest went to the spool.
    assert worker.in_flight
    assert len(worker.pending) <= 4 * 50
    assert handler.metrics.backlog > 0
    handler.close()
    after = handler.metrics.snapshot()
    backlog = sum(p["backlog"] for p in directory_status(handler.spool_dir))
    assert after["dropped"] == 0 and after["failed"] == 0
    assert after["sent"] + backlog == total
    stalled.stop()


def test_stalled_http_sink_close_leaves_everything_spooled_for_the_next_start(
    make_handler: Any, tmp_path: Path
) -> None:
    stalled = TCPReceiver(mode="stall").start()  # accepts, never reads, never answers
    spool_dir = str(tmp_path / "http-spool")
    handler = make_handler(
        "127.0.0.1", stalled.port, "http", spool_dir=spool_dir, timeout=0.5, close_timeout=1.0
    )
    for i in range(100):
        handler.handle(record(f"h {i}"))
    handler.close()
    assert handler.metrics.sent == 0
    (spool,) = directory_status(spool_dir)
    assert spool["backlog"] == 100
    stalled.stop()
    receiver = HTTPReceiver()
    again = make_handler("127.0.0.1", receiver.port, "http", spool_dir=spool_dir)
    assert again.wait_idle(60)  # starts its worker, which adopts and replays the spool
    assert wait_for(lambda: len(receiver.events) >= 100)
    assert [e["message"] for e in receiver.events] == [f"h {i}" for i in range(100)]
    receiver.stop()


def test_slow_tcp_sink_gets_everything(make_handler: Any) -> None:
    receiver = TCPReceiver(mode="slow").start()
    handler = make_handler("127.0.0.1", receiver.port, queue_size=5000)
    payload = "y" * 1500
    for i in range(2000):
        handler.handle(record(f"{i} {payload}"))
    assert wait_for(lambda: len(receiver.lines) >= 2000, timeout=120)
    assert handler.wait_idle(30)
    ids = [e["event_id"] for e in receiver.events()]
    assert len(ids) == len(set(ids)) == 2000
    assert handler.metrics.dropped == 0
    receiver.stop()


def test_udp_one_datagram_per_event_and_oversize_counted_failed(make_handler: Any) -> None:
    receiver = UDPReceiver()
    handler = make_handler("127.0.0.1", receiver.port, "udp")
    for i in range(20):
        handler.handle(record(f"udp {i}"))
    handler.handle(record("z" * 70_000))
    assert wait_for(lambda: len(receiver.datagrams) >= 20)
    assert handler.wait_idle(10)
    assert sorted(int(d.split(b'"udp ')[1].split(b'"')[0]) for d in receiver.datagrams) == list(
        range(20)
    )
    assert handler.metrics.failed == 1
    receiver.stop()


def test_http_batches_retry_503_and_count_400_as_failed(make_handler: Any) -> None:
    receiver = HTTPReceiver(statuses=[503, 503])
    handler = make_handler("127.0.0.1", receiver.port, "http", basic_auth=("user", "pw"))
    for i in range(100):
        handler.handle(record(f"http {i}"))
    assert wait_for(lambda: len(receiver.events) >= 100)
    assert handler.wait_idle(30)
    assert sorted(e["message"] for e in receiver.events) == sorted(f"http {i}" for i in range(100))
    assert len({e["event_id"] for e in receiver.events}) == 100
    assert handler.metrics.retried >= 1
    assert receiver.requests[0]["Authorization"] == "Basic dXNlcjpwdw=="
    receiver.statuses = [400]
    handler.handle(record("rejected"))
    assert wait_for(lambda: handler.metrics.failed == 1)
    assert handler.wait_idle(10)
    assert "HTTP 400" in handler.metrics.last_failure
    receiver.stop()


def test_tls_tcp(make_handler: Any, tmp_path: Path) -> None:
    cert, key = make_tls_files(str(tmp_path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    receiver = TCPReceiver(context=context).start()
    handler = make_handler("127.0.0.1", receiver.port, tls=True, ca_certs=cert)
    for i in range(10):
        handler.handle(record(f"tls {i}"))
    assert wait_for(lambda: len(receiver.lines) >= 10)
    assert [e["message"] for e in receiver.events()] == [f"tls {i}" for i in range(10)]
    receiver.stop()


def test_tls_http(make_handler: Any, tmp_path: Path) -> None:
    cert, key = make_tls_files(str(tmp_path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    receiver = HTTPReceiver(context=context)
    handler = make_handler("127.0.0.1", receiver.port, "http", tls=True, ca_certs=cert)
    assert handler.target == f"https://127.0.0.1:{receiver.port}"
    for i in range(10):
        handler.handle(record(f"https {i}"))
    assert wait_for(lambda: len(receiver.events) >= 10)
    assert [e["message"] for e in receiver.events] == [f"https {i}" for i in range(10)]
    receiver.stop()


def test_tls_refuses_an_unknown_certificate(make_handler: Any, tmp_path: Path) -> None:
    cert, key = make_tls_files(str(tmp_path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    receiver = TCPReceiver(context=context).start()
    handler = make_handler("127.0.0.1", receiver.port, tls=True)  # system CAs only
    handler.handle(record("secret"))
    assert wait_for(lambda: handler.metrics.spooled == 1)
    assert "CERTIFICATE_VERIFY_FAILED" in handler.metrics.last_failure
    assert receiver.lines == []
    receiver.stop()


def test_self_metric_record_goes_through_the_pipeline_not_logging(
    make_handler: Any, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = TCPReceiver().start()
    caplog.set_level(logging.DEBUG, logger="django_reqlog.shipper")
    handler = make_handler("127.0.0.1", receiver.port, metrics_interval=0.1)
    handler.handle(record("one"))
    assert wait_for(lambda: any("reqlog_shipper" in e for e in receiver.events()))
    shipper = next(e for e in receiver.events() if "reqlog_shipper" in e)
    assert set(shipper["reqlog_shipper"]) == {
        "queued", "sent", "retried", "spooled", "dropped", "failed", "spool_bytes",
    }  # fmt: skip
    assert shipper["logger_name"] == "django_reqlog.shipper"
    assert shipper["level"] == "INFO"
    assert caplog.records == []
    receiver.stop()


def test_self_metric_record_is_a_warning_after_drops(make_handler: Any) -> None:
    receiver = TCPReceiver(mode="stall").start()
    handler = make_handler("127.0.0.1", receiver.port, queue_size=10, metrics_interval=0.2)
    for i in range(5000):
        handler.handle(record(f"{i}"))
    assert handler.metrics.dropped > 0
    receiver.stop()
    second = TCPReceiver(receiver.port).start()
    assert wait_for(
        lambda: any(e.get("level") == "WARNING" and "reqlog_shipper" in e for e in second.events()),
        timeout=60,
    )
    second.stop()


def test_configured_from_dictconfig(tmp_path: Path) -> None:
    receiver = TCPReceiver().start()
    logger = logging.getLogger("tests.dictconfig")
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"logstash": {"()": "django_reqlog.formatters.LogstashFormatter"}},
            "handlers": {
                "logstash": {
                    "class": "django_reqlog.handlers.LogstashHandler",
                    "host": "127.0.0.1",
                    "port": receiver.port,
                    "transport": "tcp",
                    "formatter": "logstash",
                    "spool_dir": str(tmp_path),
                    "flush_interval": 0.05,
                    "queue_size": 1000,
                }
            },
            "loggers": {"tests.dictconfig": {"handlers": ["logstash"], "level": "INFO"}},
        }
    )
    try:
        handler = logger.handlers[0]
        assert isinstance(handler, LogstashHandler)
        assert isinstance(handler.formatter, LogstashFormatter)
        assert handler.name == "logstash"
        assert handler in shipper_handlers()
        logger.info("configured %s", "ok")
        assert wait_for(lambda: len(receiver.lines) == 1)
        assert receiver.events()[0]["message"] == "configured ok"
    finally:
        for h in list(logger.handlers):
            logger.removeHandler(h)
            h.close()
        receiver.stop()


def test_defaults_just_work_with_only_host_and_port() -> None:
    receiver = TCPReceiver().start()
    handler = LogstashHandler("127.0.0.1", receiver.port)
    try:
        assert isinstance(handler.formatter, LogstashFormatter)
        assert handler.spool_dir.endswith(f"logstash-tcp-127.0.0.1-{receiver.port}")
        handler.handle(record("defaults"))
        assert wait_for(lambda: len(receiver.lines) == 1)
    finally:
        handler.close()
        receiver.stop()


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((None, 5959), {}, TypeError),
        (("", 5959), {}, ValueError),
        (("127.0.0.1", "5959"), {}, TypeError),
        (("127.0.0.1", 0), {}, ValueError),
        (("127.0.0.1", 70000), {}, ValueError),
        (("127.0.0.1", 5959, "amqp"), {}, ValueError),
        (("127.0.0.1", 5959, "udp"), {"tls": True}, ValueError),
        (("127.0.0.1", 5959), {"tls": "yes"}, TypeError),
        (("127.0.0.1", 5959), {"basic_auth": ("u", "p")}, ValueError),
        (("127.0.0.1", 5959, "http"), {"basic_auth": "u:p"}, TypeError),
        (("127.0.0.1", 5959, "http"), {"http_path": "bulk"}, ValueError),
        (("127.0.0.1", 5959), {"queue_size": 0}, ValueError),
        (("127.0.0.1", 5959), {"queue_size": 1.5}, TypeError),
        (("127.0.0.1", 5959), {"flush_interval": 0}, ValueError),
        (("127.0.0.1", 5959), {"flush_interval": "1"}, TypeError),
        (("127.0.0.1", 5959), {"spool": "no"}, TypeError),
        (("127.0.0.1", 5959), {"spool_max_age": -1}, ValueError),
        (("127.0.0.1", 5959), {"retry_initial": 5, "retry_max": 1}, ValueError),
        (("127.0.0.1", 5959), {"no_such_option": 1}, TypeError),
    ],
)
def test_constructor_rejects_bad_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        LogstashHandler(*args, **kwargs)


class ChattyFormatter(LogstashFormatter):
    """Logs while formatting, as an HTTP client on the worker thread would."""

    def format(self, record: logging.LogRecord) -> str:
        logging.getLogger("tests.chatty").warning("formatting %s", record.getMessage())
        return super().format(record)


def test_records_logged_on_the_worker_thread_are_not_shipped(make_handler: Any) -> None:
    receiver = TCPReceiver().start()
    handler = make_handler("127.0.0.1", receiver.port)
    handler.setFormatter(ChattyFormatter())
    chatty = logging.getLogger("tests.chatty")
    chatty.addHandler(handler)
    try:
        handler.handle(record("original"))
        assert handler.wait_idle(30)
        assert wait_for(lambda: len(receiver.lines) >= 1)
        assert [e["message"] for e in receiver.events()] == ["original"]
        assert handler.metrics.queued == 1
    finally:
        chatty.removeHandler(handler)
        receiver.stop()


def test_reqlog_status_lists_live_handlers(make_handler: Any) -> None:
    receiver = TCPReceiver().start()
    handler = make_handler("127.0.0.1", receiver.port)
    handler.handle(record("status"))
    assert handler.wait_idle(30)
    out = io.StringIO()
    call_command("reqlog_status", stdout=out)
    text = out.getvalue()
    assert f"tcp://127.0.0.1:{receiver.port}" in text
    assert "sent=1" in text
    out = io.StringIO()
    call_command("reqlog_status", "--json", stdout=out)
    (mine,) = [e for e in json.loads(out.getvalue()) if e["spool_dir"] == handler.spool_dir]
    assert mine["metrics"]["sent"] == 1
    assert mine["pid"] == os.getpid()
    receiver.stop()


def test_wait_idle_waits_for_a_batch_already_in_flight(make_handler: Any) -> None:
    """The worker's own interval flush is on the wire: queue and pending look empty."""
    gate = threading.Event()
    receiver = HTTPReceiver(gate=gate)
    try:
        handler = make_handler("127.0.0.1", receiver.port, "http", timeout=60.0)
        for i in range(20):
            handler.handle(record(f"w {i}"))
        assert wait_for(lambda: receiver.arrived == 1)

        # Answer the held batch only once wait_idle has asked for a flush
        # round-trip (a FlushRequest in the queue, or already taken off it by
        # the worker, which answers it once the send in progress is over): a
        # wait_idle that trusts "queue and pending are empty" returns before
        # that ever happens.
        def flush_requested() -> bool:
            return not handler._queue.empty() or bool(handler._worker.flushes)

        opener = threading.Thread(
            target=lambda: wait_for(flush_requested) and gate.set(),
            daemon=True,
        )
        opener.start()
        assert handler.wait_idle(60)
        assert handler.metrics.sent == 20
        assert sorted(e["message"] for e in receiver.events) == sorted(f"w {i}" for i in range(20))
    finally:
        gate.set()
        receiver.stop()


def test_wait_idle_is_false_while_its_flush_is_still_sending(make_handler: Any) -> None:
    """A flush round-trip that timed out proves nothing: the batch may be on the wire."""
    gate = threading.Event()
    receiver = HTTPReceiver(gate=gate)
    try:
        # No interval flush: only wait_idle's own flush sends the batch.
        handler = make_handler("127.0.0.1", receiver.port, "http", flush_interval=600.0)
        for i in range(5):
            handler.handle(record(f"f {i}"))
        assert wait_for(lambda: len(handler._worker.pending) == 5)
        assert handler.wait_idle(0.5) is False
        assert receiver.arrived == 1 and handler.metrics.sent == 0
        gate.set()
        assert handler.wait_idle(60)
        assert handler.metrics.sent == 5
    finally:
        gate.set()
        receiver.stop()


@pytest.mark.parametrize("request_id", ["req-abc123", None])
def test_application_log_inside_a_request_keeps_its_request_id(
    make_handler: Any, request_id: str | None
) -> None:
    """Formatting runs on the worker, where the request's context variable is unset."""
    receiver = TCPReceiver().start()
    ecs = make_handler("127.0.0.1", receiver.port)
    ecs.setFormatter(ECSFormatter())
    flat = make_handler("127.0.0.1", receiver.port)
    assert isinstance(flat.formatter, LogstashFormatter)
    logger = logging.getLogger("tests.app.request_id")
    logger.propagate = False
    logger.addHandler(ecs)
    logger.addHandler(flat)
    sent: list[logging.LogRecord] = []

    def keep(rec: logging.LogRecord) -> bool:
        sent.append(rec)
        return True

    logger.addFilter(keep)
    token = _current.set(RequestContext(request_id))
    try:
        logger.warning("charging card")
    finally:
        _current.reset(token)
        logger.removeFilter(keep)
        logger.removeHandler(ecs)
        logger.removeHandler(flat)
    assert ecs.wait_idle(30) and flat.wait_idle(30)
    assert wait_for(lambda: len(receiver.lines) >= 2)  # sent != read yet over TCP
    events = receiver.events()
    receiver.stop()
    (ecs_doc,) = [e for e in events if "ecs" in e]
    (flat_doc,) = [e for e in events if "ecs" not in e]
    assert ecs_doc["message"] == flat_doc["message"] == "charging card"
    assert ecs_doc.get("http", {}).get("request", {}).get("id") == request_id
    assert flat_doc.get("request_id") == request_id
    # Outside a request nothing is pinned: other handlers' filters still decide.
    (logged,) = sent
    assert hasattr(logged, "request_id") is (request_id is not None)


def make_facts() -> RequestFacts:
    return facts_with(
        request_id="req-facts-1", started_at=1_700_000_000.0,
        scheme="http", host="testserver", path="/api/items/", query_string="token=s3cret&q=1",
        http_version="1.1", remote_addr="127.0.0.1", user_agent="pytest",
        content_type="application/json", content_length=27,
        body_prefix=b'{"password": "hunter2x", "a": 1}', body_bytes=27,
        status=201, duration_ns=1_500_000,
    )  # fmt: skip


def test_both_formatters_share_one_parse_of_the_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On the Python path, parsing and masking happens once per request record
    (the compiled core, when it formats, builds the fields per line instead)."""
    calls: list[RequestFacts] = []
    build = request_fields._build

    def counting(facts: RequestFacts) -> dict[str, Any]:
        calls.append(facts)
        return build(facts)

    monkeypatch.setattr(request_fields, "_build", counting)
    monkeypatch.setattr(formatters, "_events_core", lambda: None)
    facts = make_facts()
    rec = record("POST /api/items/ 201", reqlog=facts, event_id=facts.event_id)
    ecs_doc = json.loads(ECSFormatter().format(rec))
    flat_doc = json.loads(LogstashFormatter().format(rec))
    assert len(calls) == 1
    assert ecs_doc["url"]["path"] == flat_doc["request_path"] == "/api/items/"
    assert ecs_doc["http"]["request"]["id"] == flat_doc["request_id"] == "req-facts-1"
    assert "hunter2x" not in json.dumps(ecs_doc) + json.dumps(flat_doc)


def test_handlers_report_through_the_package_stderr_module(
    make_handler: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    from django_reqlog import _stderr

    assert importlib.util.find_spec("django_reqlog.handlers._stderr") is None
    _stderr.reset()
    port = free_port()  # nothing listens: the send is refused
    handler = make_handler("127.0.0.1", port)
    handler.handle(record("refused"))
    assert wait_for(lambda: handler.metrics.retried >= 1)
    assert f"django-reqlog: send to {handler.target} failed" in capfd.readouterr().err
