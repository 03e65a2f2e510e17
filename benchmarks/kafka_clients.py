"""confluent-kafka against kafka-python on the real broker: the figures behind
the KafkaHandler's choice of client (docs/shipping.md).

    python tests/testbed/kafkanode.py run -- python benchmarks/kafka_clients.py

Both clients produce the same 1 KB JSON events, keyed by event id, with the
settings the handler uses (idempotence on, acks=all), in batches of 500 whose
every delivery report is awaited, as the handler's ``send()`` does. Events/s
is wall time; CPU is the whole process's CPU time (librdkafka's native
threads and kafka-python's I/O thread included) per event. Each client runs
three times in a fresh process; the best run is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

BATCH = 500


def _events(count: int) -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(count):
        event_id = uuid.uuid4().hex
        doc = {
            "@timestamp": "2026-12-01T12:00:00.000Z",
            "log.level": "info",
            "message": f"POST /api/orders/ 201 {i}",
            "event": {"id": event_id, "dataset": "django.reqlog", "duration": 1234567},
            "http": {"request": {"method": "POST"}, "response": {"status_code": 201}},
            "url": {"path": "/api/orders/"},
        }
        text = json.dumps(doc)
        doc["reqlog"] = {"pad": "x" * (1024 - len(text) - 23)}
        payload = json.dumps(doc).encode()
        out.append((event_id.encode(), payload))
    return out


def _confluent(bootstrap: str, topic: str, events: list[tuple[bytes, bytes]]) -> int:
    from confluent_kafka import Producer

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
        }
    )
    failed = 0

    def report(err: Any, msg: Any) -> None:
        nonlocal failed
        if err is not None:
            failed += 1

    for start in range(0, len(events), BATCH):
        for key, value in events[start : start + BATCH]:
            producer.produce(topic, value, key, on_delivery=report)
        producer.flush(30)
    return failed


def _kafka_python(bootstrap: str, topic: str, events: list[tuple[bytes, bytes]]) -> int:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5
    )
    failed = 0
    for start in range(0, len(events), BATCH):
        futures = [
            producer.send(topic, value=value, key=key)
            for key, value in events[start : start + BATCH]
        ]
        producer.flush(30)
        failed += sum(1 for f in futures if f.failed())
    producer.close()
    return failed


CLIENTS = {"confluent-kafka": _confluent, "kafka-python": _kafka_python}


def run_one(client: str, count: int) -> dict[str, Any]:
    bootstrap = os.environ["REQLOG_TEST_KAFKA_BOOTSTRAP"]
    events = _events(count + BATCH)
    topic = f"reqlog-bench-{uuid.uuid4().hex[:8]}"
    # Warm-up batch: topic auto-created, connection and producer id set up.
    CLIENTS[client](bootstrap, topic, events[:BATCH])
    cpu0, wall0 = time.process_time(), time.perf_counter()
    failed = CLIENTS[client](bootstrap, topic, events[BATCH:])
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {
        "client": client,
        "events": count,
        "failed": failed,
        "events_per_s": count / wall,
        "cpu_us_per_event": cpu / count * 1e6,
    }


def compare(count: int, runs: int = 3) -> dict[str, dict[str, Any]]:
    """Each client in fresh processes, ``runs`` times; the best run of each."""
    best: dict[str, dict[str, Any]] = {}
    for _ in range(runs):
        for client in CLIENTS:
            proc = subprocess.run(
                [sys.executable, __file__, "--one", client, "--events", str(count)],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            if client not in best or result["cpu_us_per_event"] < best[client]["cpu_us_per_event"]:
                best[client] = result
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--one", choices=sorted(CLIENTS))
    args = parser.parse_args()
    if not os.environ.get("REQLOG_TEST_KAFKA_BOOTSTRAP"):
        print("no broker: run under tests/testbed/kafkanode.py run --", file=sys.stderr)
        return 2
    if args.one:
        print(json.dumps(run_one(args.one, args.events)))
        return 0
    print("| client | events/s (wall) | CPU µs/event | events/s per core | failed |")
    print("|---|---:|---:|---:|---:|")
    for client, r in compare(args.events).items():
        per_core = 1e6 / r["cpu_us_per_event"]
        print(
            f"| {client} | {r['events_per_s']:,.0f} | {r['cpu_us_per_event']:.1f} | "
            f"{per_core:,.0f} | {r['failed']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
