"""Apache Kafka through confluent-kafka (librdkafka): one message per event, keyed by its id.

The producer is idempotent with ``acks=all`` by default: librdkafka's own
retries of a batch carry the same producer id and sequence numbers, so the
broker writes each message once however often the network made it resend.
That covers one producer's life only. A message that was written but whose
acknowledgement never arrived before the process stopped is replayed from the
spool by the next process, under a new producer id, and so can appear twice
on the topic; the consumer deduplicates on the event id (Logstash writes with
``document_id`` = event id). docs/shipping.md says the same for users.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import re
import threading
import time
from typing import Any

from django_reqlog._stderr import warn

from .base import ShipperHandler, check_bool, check_str
from .spool import Item
from .transport import SendResult

DEFAULT_TOPIC = "django-reqlog"
INSTALL_HINT = 'KafkaHandler needs the confluent-kafka package: pip install "django-reqlog[kafka]"'
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
_SERVER = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^\s,:\[\]]+):(\d{1,5})")

# librdkafka properties set from the constructor's own arguments; client_options
# may set any other one.
_MANAGED = {
    "bootstrap.servers": "bootstrap_servers",
    "acks": "acks",
    "request.required.acks": "acks",
    "enable.idempotence": "acks",
    "security.protocol": "tls / sasl_mechanism",
    "sasl.mechanism": "sasl_mechanism",
    "sasl.mechanisms": "sasl_mechanism",
    "sasl.username": "sasl_username",
    "sasl.password": "sasl_password",
    "ssl.ca.location": "ca_certs",
    "ssl.certificate.location": "certfile",
    "ssl.key.location": "keyfile",
    "enable.ssl.certificate.verification": "verify_certs",
    "client.id": "client_id",
    "logger": "(set by the handler)",
    "error_cb": "(set by the handler)",
    "on_delivery": "(set by the handler)",
}

# How long one wait for delivery reports lasts, so that abort() is noticed.
_POLL_STEP = 0.05
# Delivery outcomes kept for events that may be sent again (see _Delivery).
_MAX_TRACKED = 100_000


def _client() -> Any:
    try:
        import confluent_kafka
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return confluent_kafka


class _StderrLog:
    """librdkafka's log lines, rate-limited on stderr.

    confluent-kafka hands them to a ``logger`` from ``poll()``, which runs on
    our sender thread; through ``logging`` they could reach this very handler.
    """

    def __init__(self, target: str) -> None:
        self.target = target

    def log(self, level: int, fmt: str, *args: Any) -> None:
        if level >= logging.WARNING:
            text = fmt % args if args else fmt
            # One budget per librdkafka facility (its first argument, e.g.
            # FAIL): a flood of one kind never hides the first of another.
            kind = args[0] if args else fmt
            warn(f"kafka client ({self.target}): {text}", key=f"kafka-log:{self.target}:{kind}")


class _Delivery:
    """The fate of one produced message, filled in by its delivery report.

    Kept by event id after a send gave up waiting: librdkafka still holds the
    message and keeps retrying it (idempotently). When the worker sends the
    same event again from its spool, the transport waits for this outcome
    instead of producing a second copy.
    """

    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = False
        self.error: Any = None

    def report(self, error: Any, message: Any) -> None:
        self.error = error
        self.done = True


def _retriable(error: Any) -> bool:
    kafka_error = _client().KafkaError
    transient = {
        kafka_error._MSG_TIMED_OUT,
        kafka_error._TIMED_OUT,
        kafka_error._PURGE_QUEUE,
        kafka_error._PURGE_INFLIGHT,
        kafka_error._TRANSPORT,
        kafka_error._ALL_BROKERS_DOWN,
        kafka_error._QUEUE_FULL,
    }
    return bool(error.retriable()) or error.code() in transient


def _too_large(error: Any) -> bool:
    return error is not None and error.code() == _client().KafkaError.MSG_SIZE_TOO_LARGE


class KafkaTransport:
    """Produce a batch, then wait for every delivery report until ``timeout``."""

    def __init__(self, topic: str, config: dict[str, Any], target: str) -> None:
        self.topic, self.config, self.target = topic, config, target
        self.producer: Any = None
        self.deliveries: collections.OrderedDict[str, _Delivery] = collections.OrderedDict()
        self.aborted = threading.Event()
        self.fatal: str | None = None

    def _producer(self) -> Any:
        if self.fatal is not None:
            # The producer id is unusable (e.g. the broker lost its state):
            # start over; outcomes of the old producer's messages are lost.
            warn(
                f"kafka producer for {self.target} reset: {self.fatal}",
                key=f"kafka-fatal:{self.target}",
            )
            self.fatal = None
            self.close()
        if self.producer is None:
            config = {**self.config, "logger": _StderrLog(self.target), "error_cb": self._on_error}
            self.producer = _client().Producer(config)
        return self.producer

    def _on_error(self, error: Any) -> None:
        if error.fatal():
            self.fatal = error.str()
        warn(
            f"kafka client ({self.target}): {error.str()}",
            key=f"kafka-error:{self.target}:{error.code()}",
        )

    def send(self, items: list[Item], timeout: float) -> SendResult:
        if self.aborted.is_set():
            raise ConnectionError("send aborted")
        deadline = time.monotonic() + timeout
        producer = self._producer()
        outcomes: list[_Delivery | str | None] = []
        for event_id, payload in items:
            known = self.deliveries.get(event_id)
            if known is not None and not (known.done and known.error is not None):
                outcomes.append(known)
            else:
                outcomes.append(self._produce(producer, event_id, payload, deadline))
        self._wait(producer, outcomes, deadline)
        if len(items) > 1:
            # The broker refuses a whole record batch over its size limit,
            # small events in it too: try each of those alone before calling
            # it too large.
            for index, outcome in enumerate(outcomes):
                if isinstance(outcome, _Delivery) and _too_large(outcome.error):
                    event_id, payload = items[index]
                    outcomes[index] = self._produce(producer, event_id, payload, deadline)
                    self._wait(producer, [outcomes[index]], deadline)
        if self.aborted.is_set():
            raise ConnectionError("send aborted")
        return self._result(items, outcomes)

    def _wait(self, producer: Any, outcomes: list[_Delivery | str | None], deadline: float) -> None:
        """Until every delivery report is in, the deadline passes or abort() is called."""
        pending = [o for o in outcomes if isinstance(o, _Delivery)]
        while any(not d.done for d in pending) and not self.aborted.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            # flush() also cuts linger.ms short: the batch goes out at once.
            producer.flush(min(_POLL_STEP, remaining))

    def _produce(self, producer: Any, event_id: str, payload: bytes, deadline: float) -> Any:
        """A _Delivery, a failure reason, or None if not even queued in time."""
        delivery = _Delivery()
        while True:
            try:
                producer.produce(
                    self.topic, payload, event_id.encode(), on_delivery=delivery.report
                )
            except BufferError:  # librdkafka's own queue is full: let it drain
                if time.monotonic() >= deadline or self.aborted.is_set():
                    return None
                producer.poll(_POLL_STEP)
                continue
            except _client().KafkaException as exc:
                error = exc.args[0]
                return None if _retriable(error) else f"kafka: {error.str()}"
            self.deliveries[event_id] = delivery
            return delivery

    def _result(self, items: list[Item], outcomes: list[_Delivery | str | None]) -> SendResult:
        result = SendResult()
        for index, outcome in enumerate(outcomes):
            event_id = items[index][0]
            if outcome is None:
                result.retry.append(index)
            elif isinstance(outcome, str):
                result.failed.append((index, outcome))
            elif not outcome.done:
                result.retry.append(index)  # still with librdkafka: stays tracked
            else:
                self.deliveries.pop(event_id, None)
                if outcome.error is None:
                    continue
                if _retriable(outcome.error):
                    result.retry.append(index)
                else:
                    result.failed.append((index, f"kafka: {outcome.error.str()}"))
        while len(self.deliveries) > _MAX_TRACKED:
            self.deliveries.popitem(last=False)
        return result

    def close(self) -> None:
        producer, self.producer = self.producer, None
        if producer is None:
            return
        # Messages still queued in librdkafka are also in the spool (the
        # worker spooled every unacknowledged event): drop them here, or the
        # next process's replay would write them twice. Ones already on the
        # wire get a moment to be acknowledged. Not Producer.close(): it
        # flushes without a time limit, for message.timeout.ms on a stalled
        # broker; dropping the last reference destroys the producer at once.
        try:
            producer.purge(in_queue=True, in_flight=False)
            producer.flush(0.5)
        finally:
            self.deliveries.clear()

    def abort(self) -> None:
        """From another thread: make a send waiting for acknowledgements give up."""
        self.aborted.set()


def _servers(value: object) -> list[str]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if not isinstance(value, (list, tuple)) or not value:
        raise TypeError("bootstrap_servers must be a 'host:port' string or a list of them")
    servers = []
    for entry in value:
        server = check_str("bootstrap_servers[]", entry) or ""
        match = _SERVER.fullmatch(server)
        if match is None or not 0 < int(match.group(2)) < 65536:
            raise ValueError(f"bootstrap server {server!r} is not 'host:port'")
        servers.append(match.group(0))
    return servers


def _acks(value: object) -> str:
    if value in ("all", -1, "-1"):
        return "all"
    if value in (0, 1, "0", "1") and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"acks must be 'all', 1 or 0; got {value!r}")


def _sasl(mechanism: object, username: object, password: object) -> dict[str, str]:
    if mechanism is None:
        if username is not None or password is not None:
            raise ValueError("sasl_username and sasl_password need a sasl_mechanism")
        return {}
    if mechanism not in SASL_MECHANISMS:
        raise ValueError(f"sasl_mechanism must be one of {', '.join(SASL_MECHANISMS)}")
    user = check_str("sasl_username", username, optional=True)
    secret = check_str("sasl_password", password, optional=True)
    if user is None or secret is None:
        raise ValueError(f"sasl_mechanism {mechanism} needs sasl_username and sasl_password")
    return {"sasl.mechanism": str(mechanism), "sasl.username": user, "sasl.password": secret}


def _client_options(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError("client_options must be a dict of librdkafka properties")
    for key, option in value.items():
        if not isinstance(key, str):
            raise TypeError(f"client_options keys must be str, not {type(key).__name__}")
        if key in _MANAGED:
            raise ValueError(f"client_options may not set {key!r}; use {_MANAGED[key]}")
        if not isinstance(option, (str, int, float, bool)):
            raise TypeError(f"client_options[{key!r}] must be a str, int, float or bool")
    return dict(value)


def _topic(value: object) -> str:
    topic = check_str("topic", value) or DEFAULT_TOPIC
    if not _TOPIC.fullmatch(topic) or topic in (".", ".."):
        raise ValueError(
            f"topic {topic!r} is not a valid Kafka topic name "
            "(1-249 characters of A-Z, a-z, 0-9, '.', '_' and '-')"
        )
    return topic


def _tls_files(
    tls: bool, ca_certs: object, certfile: object, keyfile: object
) -> dict[str, str | None]:
    """librdkafka's TLS file properties, checked against ``tls``."""
    files = {
        "ssl.ca.location": check_str("ca_certs", ca_certs, optional=True),
        "ssl.certificate.location": check_str("certfile", certfile, optional=True),
        "ssl.key.location": check_str("keyfile", keyfile, optional=True),
    }
    if not tls and any(files.values()):
        raise ValueError("ca_certs, certfile, keyfile and verify_certs need tls=True")
    if bool(files["ssl.certificate.location"]) != bool(files["ssl.key.location"]):
        raise ValueError("certfile and keyfile go together")
    return files


class KafkaHandler(ShipperHandler):
    """Ship records to a Kafka topic (ECS JSON, keyed by event id) from a worker thread.

    ``KafkaHandler("127.0.0.1:9092")`` writes to the topic ``django-reqlog``
    with an idempotent producer and ``acks=all``.
    """

    def __init__(
        self,
        bootstrap_servers: str | list[str],
        *,
        topic: str = DEFAULT_TOPIC,
        acks: str | int = "all",
        tls: bool = False,
        ca_certs: str | None = None,
        verify_certs: bool = True,
        certfile: str | None = None,
        keyfile: str | None = None,
        sasl_mechanism: str | None = None,
        sasl_username: str | None = None,
        sasl_password: str | None = None,
        client_id: str = "django-reqlog",
        client_options: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        self.bootstrap_servers = _servers(bootstrap_servers)
        self.topic = _topic(topic)
        self.acks = _acks(acks)
        self.tls = check_bool("tls", tls)
        tls_files = _tls_files(self.tls, ca_certs, certfile, keyfile)
        verify = check_bool("verify_certs", verify_certs)
        if not self.tls and not verify:
            raise ValueError("ca_certs, certfile, keyfile and verify_certs need tls=True")
        sasl = _sasl(sasl_mechanism, sasl_username, sasl_password)
        protocol = ("SASL_" if sasl else "") + ("SSL" if self.tls else "PLAINTEXT")
        config: dict[str, Any] = {
            "acks": self.acks,
            # Idempotence needs acks=all; with fewer acks a lost ack may duplicate.
            "enable.idempotence": self.acks == "all",
            "security.protocol": protocol,
            "client.id": check_str("client_id", client_id),
            # Java's partitioner: an event id lands on the same partition as
            # it would from a Java producer.
            "partitioner": "murmur2_random",
            **{key: value for key, value in tls_files.items() if value},
            **sasl,
        }
        if self.tls and not verify:
            config["enable.ssl.certificate.verification"] = False
            config["ssl.endpoint.identification.algorithm"] = "none"
        config.update(_client_options(client_options))
        self._probe(config)
        self.client_config = {"bootstrap.servers": ",".join(self.bootstrap_servers), **config}
        self.target = f"kafka://{','.join(self.bootstrap_servers)}/{self.topic}"
        digest = hashlib.sha1(self.target.encode(), usedforsecurity=False).hexdigest()[:10]
        self.spool_key = f"kafka-{self.topic}-{digest}"
        super().__init__(**options)

    @staticmethod
    def _probe(config: dict[str, Any]) -> None:
        """Have librdkafka check every property now, with its own message.

        Without bootstrap servers the probe opens no connection, and with
        nothing queued it is destroyed as soon as it is dropped.
        """
        client = _client()
        try:
            client.Producer({**config, "logger": _Silent()})
        except client.KafkaException as exc:
            raise ValueError(f"Kafka client options rejected: {exc.args[0].str()}") from None

    def _make_transport(self) -> KafkaTransport:
        return KafkaTransport(self.topic, self.client_config, self.target)

    def _default_formatter(self) -> logging.Formatter:
        from django_reqlog.formatters import ECSFormatter

        return ECSFormatter()


class _Silent:
    def log(self, level: int, fmt: str, *args: Any) -> None:
        pass
