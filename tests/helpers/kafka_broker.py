"""The real Kafka broker of the test bed, for tests/handlers/test_kafka.py.

``tests/testbed/kafkanode.py run --`` starts Apache Kafka's own broker and
exports ``REQLOG_TEST_KAFKA_*``. Without them the tests that need it are
skipped, except under ``REQLOG_TEST_KAFKA_REQUIRED=1`` (set by kafkanode.py,
so by ``make test``): then a missing broker is a failure, never a silent skip.

``Broker`` freezes (SIGSTOP), thaws, stops and restarts that very broker, by
the PID in its state file, on the same port and log directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.script_modules import load_module

ROOT = Path(__file__).resolve().parents[2]
kafkanode = load_module(ROOT / "tests" / "testbed" / "kafkanode.py", "reqlog_kafkanode")


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap: str
    sasl_bootstrap: str
    sasl_username: str
    sasl_password: str
    ca_certs: str
    node_file: str


def kafka_settings() -> KafkaSettings:
    env = os.environ
    if not env.get("REQLOG_TEST_KAFKA_BOOTSTRAP"):
        reason = "no Kafka broker: run under `python tests/testbed/kafkanode.py run --`"
        if env.get("REQLOG_TEST_KAFKA_REQUIRED") == "1":
            pytest.fail(f"REQLOG_TEST_KAFKA_REQUIRED=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return KafkaSettings(
        bootstrap=env["REQLOG_TEST_KAFKA_BOOTSTRAP"],
        sasl_bootstrap=env["REQLOG_TEST_KAFKA_SASL_BOOTSTRAP"],
        sasl_username=env["REQLOG_TEST_KAFKA_SASL_USERNAME"],
        sasl_password=env["REQLOG_TEST_KAFKA_SASL_PASSWORD"],
        ca_certs=env["REQLOG_TEST_KAFKA_CA_CERTS"],
        node_file=env["REQLOG_TEST_KAFKA_NODE"],
    )


def create_topic(bootstrap: str, partitions: int = 3, **config: str) -> str:
    """A fresh topic, so tests never see each other's messages."""
    from confluent_kafka.admin import AdminClient, NewTopic

    name = f"reqlog-test-{uuid.uuid4().hex[:12]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config)],
        operation_timeout=30,
    )
    futures[name].result(60)
    return name


@dataclass(frozen=True)
class Message:
    key: str
    value: dict[str, Any]
    partition: int


def consume_all(bootstrap: str, topic: str) -> list[Message]:
    """Every message on every partition of ``topic``, read up to its high watermark."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reqlog-test-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            # Only what committed producers wrote (our producer uses none).
            "isolation.level": "read_committed",
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
            for p in partitions
        }
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        seen: list[Message] = []
        position = dict.fromkeys(partitions, 0)
        while any(position[p] < ends[p] for p in partitions):
            msg = consumer.poll(10)
            assert msg is not None, f"stalled reading {topic}: at {position}, ends {ends}"
            assert msg.error() is None, msg.error()
            key, value = msg.key(), msg.value()
            assert key is not None and value is not None
            seen.append(Message(key.decode(), json.loads(value), msg.partition()))
            position[msg.partition()] = msg.offset() + 1
        return seen
    finally:
        consumer.close()


def count_by_event_id(messages: list[Message]) -> Counter[str]:
    return Counter(m.value["event"]["id"] for m in messages)


class Broker:
    """The test bed's broker process, controlled through its state file."""

    def __init__(self, node_file: str) -> None:
        self.node_file = node_file

    def node(self) -> dict[str, Any]:
        node: dict[str, Any] = kafkanode.load(self.node_file)
        return node

    def signal(self, signum: int) -> None:
        os.killpg(int(self.node()["pid"]), signum)

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """SIGSTOP the broker: it keeps its connections open and answers nothing."""
        self.signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.signal(signal.SIGCONT)

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """A real outage: the broker process stops, then starts again on the
        same port and log directory."""
        node = self.node()
        kafkanode.stop_broker(node)
        try:
            yield
        finally:
            kafkanode.start_broker(node)
