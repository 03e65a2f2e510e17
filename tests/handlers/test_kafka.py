"""KafkaHandler: its arguments offline, its delivery against the real broker.

The broker is Apache Kafka's own, started by ``tests/testbed/kafkanode.py``
(``make test`` does). Faults are real: the broker process is frozen with
SIGSTOP, or stopped and started again on the same port and log directory.
Every delivery check reads the topic back and counts messages by event id.
"""

from __future__ import annotations

import io
import json
import logging
import logging.config
import sys
import threading
import uuid
from collections.abc import Callable
from contextlib import redirect_stderr
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from django_reqlog.handlers import KafkaHandler
from django_reqlog.handlers.kafka import KafkaTransport
from django_reqlog.handlers.spool import Item
from django_reqlog.handlers.transport import SendResult
from tests.helpers.handlers import FAST, Shippers, record
from tests.helpers.kafka_broker import (
    Broker,
    KafkaSettings,
    Message,
    consume_all,
    count_by_event_id,
    create_topic,
    kafka_settings,
)
from tests.helpers.log_capture import attached
from tests.helpers.waiting import wait_for

pytest.importorskip("confluent_kafka", reason="the kafka extra is not installed")

KAFKA_FAST = {**FAST, "retry_max": 0.5, "close_timeout": 10.0}
needs_broker = pytest.mark.kafka


@pytest.fixture
def kafka() -> KafkaSettings:
    return kafka_settings()


@pytest.fixture
def topic(kafka: KafkaSettings) -> str:
    return create_topic(kafka.bootstrap)


@pytest.fixture
def broker(kafka: KafkaSettings) -> Broker:
    return Broker(kafka.node_file)


@pytest.fixture
def make_handler(shippers: Shippers, tmp_path: Path) -> Callable[..., KafkaHandler]:
    def make(*args: Any, **options: Any) -> KafkaHandler:
        spool_dir = str(tmp_path / f"spool-{len(shippers.made)}")  # a spool each
        return shippers.make(KafkaHandler, *args, **{**KAFKA_FAST, "spool_dir": spool_dir, **options})

    return make


def drive_requests(prefix: str, count: int) -> list[str]:
    """``count`` real requests through the middleware; their request ids."""
    client = Client()
    ids = []
    for i in range(count):
        request_id = f"{prefix}-{i}"
        response = client.post(
            "/echo/", {"n": i}, content_type="application/json", HTTP_X_REQUEST_ID=request_id
        )
        assert response.status_code == 200
        ids.append(request_id)
    return ids


def sasl_ssl(kafka: KafkaSettings, mechanism: str, password: str | None = None) -> dict[str, Any]:
    """Arguments for the test bed's SASL_SSL listener."""
    return {
        "tls": True,
        "ca_certs": kafka.ca_certs,
        "sasl_mechanism": mechanism,
        "sasl_username": kafka.sasl_username,
        "sasl_password": kafka.sasl_password if password is None else password,
    }


def assert_once_per_request(messages: list[Message], request_ids: list[str]) -> None:
    """Exactly one message per request, keyed by that request's event id."""
    by_request: dict[str, list[Message]] = {}
    for message in messages:
        by_request.setdefault(message.value["http"]["request"]["id"], []).append(message)
    assert sorted(by_request) == sorted(request_ids)
    assert [rid for rid, found in by_request.items() if len(found) != 1] == []
    for message in messages:
        assert message.key == message.value["event"]["id"]
    counts = count_by_event_id(messages)
    assert len(counts) == len(request_ids) and max(counts.values()) == 1


# ------------------------------------------------------------------ arguments (no broker)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"bootstrap_servers": 9092}, TypeError, "bootstrap_servers must be"),
        ({"bootstrap_servers": []}, TypeError, "bootstrap_servers must be"),
        ({"bootstrap_servers": "localhost"}, ValueError, "is not 'host:port'"),
        ({"bootstrap_servers": "localhost:99999"}, ValueError, "is not 'host:port'"),
        ({"topic": "no spaces"}, ValueError, "not a valid Kafka topic name"),
        ({"topic": ".."}, ValueError, "not a valid Kafka topic name"),
        ({"topic": "x" * 250}, ValueError, "not a valid Kafka topic name"),
        ({"topic": 5}, TypeError, "topic must be a str"),
        ({"acks": 2}, ValueError, "acks must be 'all', 1 or 0"),
        ({"acks": True}, ValueError, "acks must be 'all', 1 or 0"),
        ({"tls": "yes"}, TypeError, "tls must be a bool"),
        ({"ca_certs": "/ca.pem"}, ValueError, "need tls=True"),
        ({"verify_certs": False}, ValueError, "need tls=True"),
        ({"tls": True, "certfile": "/c.pem"}, ValueError, "certfile and keyfile go together"),
        ({"sasl_mechanism": "GSSAPI"}, ValueError, "sasl_mechanism must be one of"),
        ({"sasl_mechanism": "PLAIN", "sasl_username": "u"}, ValueError, "needs sasl_username"),
        ({"sasl_username": "u", "sasl_password": "p"}, ValueError, "need a sasl_mechanism"),
        ({"client_options": ["linger.ms"]}, TypeError, "client_options must be a dict"),
        ({"client_options": {"acks": "1"}}, ValueError, "may not set 'acks'; use acks"),
        (
            {"client_options": {"bootstrap.servers": "x:1"}},
            ValueError,
            "use bootstrap_servers",
        ),
        ({"client_options": {"linger.ms": [5]}}, TypeError, "must be a str, int, float or bool"),
        ({"client_options": {"no.such.property": 1}}, ValueError, "No such configuration"),
        ({"client_options": {"linger.ms": "soon"}}, ValueError, "Invalid value"),
        ({"tls": True, "ca_certs": "/nonexistent/ca.pem"}, ValueError, "ssl.ca.location"),
    ],
)
def test_bad_arguments_are_rejected_with_a_clear_error(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    kwargs = {"bootstrap_servers": "127.0.0.1:9092", **kwargs}
    with pytest.raises(error, match=message):
        KafkaHandler(**kwargs)


def test_client_configuration_from_arguments(tmp_path: Path) -> None:
    handler = KafkaHandler(
        ["10.0.0.1:9093", "[::1]:9093"],
        topic="web.requests",
        tls=True,
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="app",
        sasl_password="s3cret",
        client_options={"linger.ms": 20, "compression.type": "lz4"},
        spool_dir=str(tmp_path / "spool"),
    )
    try:
        assert handler.client_config == {
            "bootstrap.servers": "10.0.0.1:9093,[::1]:9093",
            "acks": "all",
            "enable.idempotence": True,
            "security.protocol": "SASL_SSL",
            "client.id": "django-reqlog",
            "partitioner": "murmur2_random",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": "app",
            "sasl.password": "s3cret",
            "linger.ms": 20,
            "compression.type": "lz4",
        }
        assert handler.target == "kafka://10.0.0.1:9093,[::1]:9093/web.requests"
        assert handler.spool_key.startswith("kafka-web.requests-")
    finally:
        handler.close()


@pytest.mark.parametrize(
    ("acks", "idempotent"), [("all", True), (-1, True), (1, False), (0, False)]
)
def test_idempotence_follows_acks(tmp_path: Path, acks: Any, idempotent: bool) -> None:
    handler = KafkaHandler("127.0.0.1:9092", acks=acks, spool_dir=str(tmp_path))
    try:
        assert handler.client_config["enable.idempotence"] is idempotent
        assert handler.client_config["acks"] == ("all" if idempotent else str(acks))
    finally:
        handler.close()


def test_missing_client_library_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)  # import now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "django-reqlog\[kafka\]"'):
        KafkaHandler("127.0.0.1:9092")


def test_dictconfig_builds_it_from_logging_settings(tmp_path: Path) -> None:
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {
                "kafka": {
                    "class": "django_reqlog.handlers.KafkaHandler",
                    "bootstrap_servers": "127.0.0.1:9092",
                    "topic": "reqlog",
                    "spool_dir": str(tmp_path),
                }
            },
            "loggers": {"tests.kafka.dictconfig": {"handlers": ["kafka"], "propagate": False}},
        }
    )
    logger = logging.getLogger("tests.kafka.dictconfig")
    (handler,) = logger.handlers
    try:
        assert isinstance(handler, KafkaHandler)
        assert handler.name == "kafka" and handler.topic == "reqlog"
    finally:
        logger.removeHandler(handler)
        handler.close()


# ------------------------------------------------------------------ delivery (real broker)


@needs_broker
def test_each_request_arrives_once_keyed_by_its_event_id(
    kafka: KafkaSettings, topic: str, make_handler: Any
) -> None:
    handler = make_handler(kafka.bootstrap, topic=topic)
    with attached(handler, logging.INFO):
        request_ids = drive_requests(f"once-{uuid.uuid4().hex[:6]}", 120)
        assert handler.wait_idle(60)
    messages = consume_all(kafka.bootstrap, topic)
    assert_once_per_request(messages, request_ids)
    # Keyed placement: Java's murmur2 partitioner puts one key on one partition
    # and spreads many keys over all of them.
    assert {m.partition for m in messages} == {0, 1, 2}
    assert messages[0].value["ecs"]["version"] and messages[0].value["url"]["path"] == "/echo/"
    assert handler.metrics.snapshot()["sent"] == 120


@needs_broker
@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
def test_tls_and_sasl_deliver_to_the_sasl_ssl_listener(
    kafka: KafkaSettings, topic: str, make_handler: Any, mechanism: str
) -> None:
    handler = make_handler(kafka.sasl_bootstrap, topic=topic, **sasl_ssl(kafka, mechanism))
    records = [record(f"secure {i}") for i in range(20)]
    for rec in records:
        handler.handle(rec)
    assert handler.wait_idle(60)
    messages = consume_all(kafka.bootstrap, topic)
    assert sorted(m.key for m in messages) == sorted(r.event_id for r in records)


@needs_broker
def test_a_wrong_password_delivers_nothing_and_says_why(
    kafka: KafkaSettings, topic: str, make_handler: Any
) -> None:
    options = sasl_ssl(kafka, "PLAIN", password="not-the-password")
    handler = make_handler(kafka.sasl_bootstrap, topic=topic, timeout=2.0, **options)
    stderr = io.StringIO()
    with redirect_stderr(stderr):
        handler.handle(record("denied"))
        assert wait_for(lambda: handler.metrics.spooled >= 1, timeout=60)
    assert handler.metrics.sent == 0
    assert "Authentication failed" in stderr.getvalue()
    assert consume_all(kafka.bootstrap, topic) == []


@needs_broker
def test_a_message_the_broker_refuses_fails_alone(kafka: KafkaSettings, make_handler: Any) -> None:
    topic = create_topic(kafka.bootstrap, **{"max.message.bytes": "4096"})
    handler = make_handler(kafka.bootstrap, topic=topic)
    small = [record(f"small {i}") for i in range(10)]
    big = record("big " + "x" * 20_000)
    stderr = io.StringIO()
    with redirect_stderr(stderr):
        for rec in [*small[:5], big, *small[5:]]:
            handler.handle(rec)
        assert handler.wait_idle(60)
    metrics = handler.metrics.snapshot()
    assert (metrics["sent"], metrics["failed"], metrics["spooled"]) == (10, 1, 0)
    assert "MSG_SIZE_TOO_LARGE" in stderr.getvalue() or "too large" in stderr.getvalue()
    assert sorted(m.key for m in consume_all(kafka.bootstrap, topic)) == sorted(
        r.event_id for r in small
    )


# ------------------------------------------------------------------ faults (real broker)


class ObservedTransport(KafkaTransport):
    """The real transport, telling the test when a send starts and returns."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.entered = threading.Event()
        self.returned = threading.Event()

    def send(self, items: list[Item], timeout: float) -> SendResult:
        self.entered.set()
        try:
            return super().send(items, timeout)
        finally:
            self.returned.set()


class ObservedKafkaHandler(KafkaHandler):
    def _make_transport(self) -> ObservedTransport:
        self.transport = ObservedTransport(self.topic, self.client_config, self.target)
        return self.transport


@needs_broker
def test_a_frozen_broker_never_holds_up_a_request(
    kafka: KafkaSettings, topic: str, broker: Broker, tmp_path: Path
) -> None:
    """While a send waits on a SIGSTOPped broker, requests complete: every
    request below finishes while that one send has not returned."""
    handler = ObservedKafkaHandler(
        kafka.bootstrap, topic=topic, timeout=300.0, spool_dir=str(tmp_path), **KAFKA_FAST
    )
    try:
        with attached(handler, logging.INFO):
            warm = drive_requests("warm", 1)  # connected, producer id assigned
            assert handler.wait_idle(60)
            with broker.frozen():
                handler.transport.entered.clear()
                handler.transport.returned.clear()
                blocked = drive_requests("blocked", 1)
                assert handler.transport.entered.wait(60)
                during = drive_requests("during", 200)
                # All 200 requests (and their emits) completed while the send
                # was still waiting for the frozen broker's acknowledgement.
                assert not handler.transport.returned.is_set()
            assert handler.wait_idle(120)
    finally:
        handler.close()
    messages = consume_all(kafka.bootstrap, topic)
    assert_once_per_request(messages, warm + blocked + during)
    print(f"\nfrozen broker: {len(warm + blocked + during)} requests, {len(messages)} messages")


@needs_broker
def test_a_send_that_gave_up_on_a_frozen_broker_is_not_written_twice(
    kafka: KafkaSettings, topic: str, broker: Broker, make_handler: Any
) -> None:
    """The send times out while librdkafka still holds the batch; the worker
    spools it and replays it. The replay must wait for librdkafka's own
    (idempotent) delivery instead of producing a second copy."""
    handler = make_handler(kafka.bootstrap, topic=topic, timeout=1.0)
    warm = record("warm-up")
    handler.handle(warm)
    assert handler.wait_idle(60)
    records = [record(f"stalled {i}") for i in range(300)]
    with broker.frozen():
        for rec in records:
            handler.handle(rec)
        # Every event went to the spool, which means the send on the wire
        # gave up; then at least one replay from the spool gave up too (the
        # worker probes a sink that failed with one event before whole batches).
        assert wait_for(lambda: handler.metrics.spooled >= 300, timeout=120)
        first_failures = handler.metrics.retried
        assert first_failures >= 1
        assert wait_for(lambda: handler.metrics.retried > first_failures, timeout=120)
    assert handler.wait_idle(120)
    messages = consume_all(kafka.bootstrap, topic)
    counts = count_by_event_id(messages)
    expected = {r.event_id for r in [warm, *records]}
    assert set(counts) == expected
    assert [key for key, n in counts.items() if n > 1] == []
    print(f"\nfrozen broker, sends timing out: {len(expected)} sent, {len(messages)} on the topic")


@needs_broker
@pytest.mark.slow
def test_a_broker_down_for_30_seconds_loses_and_duplicates_nothing(
    kafka: KafkaSettings, topic: str, broker: Broker, make_handler: Any
) -> None:
    """The broker process is stopped for 30 s of traffic and started again on
    the same port and log directory; every request is on the topic once."""
    handler = make_handler(kafka.bootstrap, topic=topic, timeout=2.0, retry_max=2.0)
    outage_done = threading.Event()
    with attached(handler, logging.INFO):
        before = drive_requests("before", 100)
        assert handler.wait_idle(60)
        during: list[str] = []
        with broker.down():
            # 30 s of requests, paced by the outage itself, not by a clock in
            # an assertion: a timer ends the outage, the loop ends with it.
            timer = threading.Timer(30.0, outage_done.set)
            timer.start()
            batch = 0
            while not outage_done.is_set() and batch < 1000:
                during += drive_requests(f"during-{batch}", 10)
                batch += 1
                outage_done.wait(0.1)
            assert handler.metrics.spooled > 0 and handler.metrics.sent == 100
        after = drive_requests("after", 100)
        assert handler.wait_idle(180)
    messages = consume_all(kafka.bootstrap, topic)
    sent = before + during + after
    assert_once_per_request(messages, sent)
    print(
        f"\n30 s outage: {len(sent)} requests ({len(during)} during the outage), "
        f"{len(messages)} messages, {len(messages) - len(count_by_event_id(messages))} duplicates;"
        f" metrics {json.dumps(handler.metrics.snapshot())}"
    )
