"""Figures for the shipper handlers (issue 3). Prints one line per figure.

    python benchmarks/shipper_bench.py all                  # no Elasticsearch figures
    python tests/testbed/esnode.py run -- python benchmarks/shipper_bench.py all

Subcommands: latency, outage, rss, cpu, es, faults, all. Durations are arguments so a
quick run can scale them down; the printed lines say what was run.

Requests go through Django's test client (WSGI handler, the RequestLogMiddleware
from tests/settings.py) as 1 KB JSON POSTs to /echo/; the sinks are loopback
receivers from tests/helpers/shipping.py and, for "es", the real node.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.test import Client  # noqa: E402

from django_reqlog.formatters import ECSFormatter  # noqa: E402
from django_reqlog.handlers import ElasticsearchHandler, LogstashHandler  # noqa: E402
from django_reqlog.handlers.base import ShipperHandler  # noqa: E402
from django_reqlog.handlers.spool import SpoolFile  # noqa: E402
from tests.helpers.shipping import (  # noqa: E402
    ESProxy,
    MiB,
    TCPReceiver,
    kill_when_logged,
    spool_file_bytes,
    spooled_messages,
    start_outage,
    start_steady,
)
from tests.helpers.waiting import free_port, wait_for  # noqa: E402

BODY = json.dumps({"items": [{"sku": f"SKU-{i:04d}", "qty": i} for i in range(40)]})[:1024]
LOGGER = logging.getLogger("django_reqlog")
WORK = tempfile.mkdtemp(prefix="reqlog-bench-")


def out(figure: str, value: str) -> None:
    print(f"{figure:<58} {value}", flush=True)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def attach(handler: logging.Handler | None) -> None:
    LOGGER.handlers = [handler] if handler else [logging.NullHandler()]
    LOGGER.setLevel(logging.INFO)
    LOGGER.propagate = False


def drive(client: Client, n: int, rate: float | None = None) -> list[float]:
    """n requests; paced at ``rate`` per second if given. Returns ms per request."""
    times = []
    start = time.perf_counter()
    for i in range(n):
        if rate:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        t0 = time.perf_counter_ns()
        response = client.post("/echo/", BODY, content_type="application/json")
        times.append((time.perf_counter_ns() - t0) / 1e6)
        assert response.status_code == 200
    return times


def opts(**extra: Any) -> dict[str, Any]:
    return {"spool_dir": os.path.join(WORK, uuid.uuid4().hex), "metrics_interval": None, **extra}


def rss_kib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def thread_cpu_s(handler: ShipperHandler) -> float:
    tid = handler._worker.thread.native_id
    with open(f"/proc/self/task/{tid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- figures -------------------------------------------------------------------


def latency(n: int) -> None:
    """Paired: requests alternate between no handler and the stalled-sink handler.

    Alternating request by request makes both series see the same machine
    load (this host is shared), so the difference is the handler's own.
    """
    noise = []
    for _ in range(4 * n):  # the host's own scheduling noise, for scale
        t0 = time.perf_counter_ns()
        sum(range(20))
        noise.append((time.perf_counter_ns() - t0) / 1e6)
    out(
        f"host noise floor: a ~1 µs loop (n={4 * n}) p99/max ms",
        f"{quantile(noise, 0.99):.3f} / {max(noise):.3f} (load avg {os.getloadavg()[0]:.1f})",
    )
    client = Client()
    receiver = TCPReceiver(mode="stall").start()
    handler = LogstashHandler("127.0.0.1", receiver.port, **opts(timeout=2.0))
    attach(handler)
    drive(client, 1000)  # warm-up; also fills the stalled socket's kernel buffers
    base: list[float] = []
    stalled: list[float] = []
    for i in range(2 * n):
        attach(handler if i % 2 else None)
        (stalled if i % 2 else base).extend(drive(client, 1))
    m = handler.metrics.snapshot()
    attach(None)
    handler.close()
    receiver.stop()
    b99, s99 = quantile(base, 0.99), quantile(stalled, 0.99)
    out(
        f"request latency, no handler (n={n}) p50/p99/max ms",
        f"{statistics.median(base):.3f} / {b99:.3f} / {max(base):.3f}",
    )
    out(
        f"request latency, stalled Logstash sink (n={n}) p50/p99/max ms",
        f"{statistics.median(stalled):.3f} / {s99:.3f} / {max(stalled):.3f}",
    )
    out(
        "extra latency with stalled sink: p50 / p99 / max ms",
        f"{statistics.median(stalled) - statistics.median(base):+.3f} / {s99 - b99:+.3f} / "
        f"{max(stalled) - max(base):+.3f}",
    )
    out("  shipper counters during the stall", json.dumps(m))
    # emit() alone, with the same stalled sink and a full-speed producer.
    receiver = TCPReceiver(mode="stall").start()
    handler = LogstashHandler("127.0.0.1", receiver.port, **opts(timeout=2.0))
    record = logging.LogRecord("bench", logging.INFO, __file__, 1, "x" * 1000, (), None)
    emits = []
    for _ in range(n * 4):
        t0 = time.perf_counter_ns()
        handler.handle(record)
        emits.append((time.perf_counter_ns() - t0) / 1e3)
        record.event_id = None
    out(
        f"emit() alone, stalled sink (n={n * 4}) p50/p99/max µs",
        f"{statistics.median(emits):.1f} / {quantile(emits, 0.99):.1f} / {max(emits):.1f}",
    )
    handler.close()
    receiver.stop()


def outage(seconds: float, rate: float) -> None:
    client = Client()
    port = free_port()
    handler = LogstashHandler("127.0.0.1", port, **opts(retry_max=5.0))
    attach(handler)
    n = int(seconds * rate)
    captured: list[str] = []
    times = drive(client, n, rate)
    receiver = TCPReceiver(port).start()
    idle = handler.wait_idle(120)
    wait_for(lambda: len(receiver.lines) >= n, timeout=30)
    ids = [e.get("event_id") for e in receiver.events()]
    attach(None)
    m = handler.metrics.snapshot()
    handler.close()
    receiver.stop()
    del captured
    out(
        f"Logstash TCP outage {seconds:.0f}s at {rate:.0f} req/s: requests",
        f"{n} (p99 {quantile(times, 0.99):.3f} ms, max {max(times):.3f} ms)",
    )
    out(
        "  events received after recovery / unique / lost / duplicates",
        f"{len(ids)} / {len(set(ids))} / {n - len(set(ids))} / {len(ids) - len(set(ids))}"
        f" (idle={idle})",
    )
    out("  shipper counters", json.dumps(m))


def rss(seconds: float, rate: float) -> None:
    port = free_port()
    handler = LogstashHandler("127.0.0.1", port, **opts(retry_max=5.0))
    message = "m" * 1000
    for _ in range(2000):  # warm up: spool created, queue and caches touched
        handler.handle(logging.LogRecord("bench", logging.INFO, __file__, 1, message, (), None))
    wait_for(lambda: handler.metrics.spooled >= 2000)
    start_rss = rss_kib()
    peak = start_rss
    n = int(seconds * rate)
    t0 = time.perf_counter()
    for i in range(n):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        handler.handle(logging.LogRecord("bench", logging.INFO, __file__, 1, message, (), None))
        if i % 500 == 0:
            peak = max(peak, rss_kib())
    peak = max(peak, rss_kib())
    m = handler.metrics.snapshot()
    handler.close()
    out(
        f"RSS growth, sink down {seconds:.0f}s at {rate:.0f} ev/s ({n} events, 1 KB)",
        f"{(peak - start_rss) / 1024:.1f} MiB (start {start_rss / 1024:.1f} MiB, "
        f"peak {peak / 1024:.1f} MiB; queue cap {handler.queue_size} records)",
    )
    out(
        "  spooled / dropped / spool_bytes", f"{m['spooled']} / {m['dropped']} / {m['spool_bytes']}"
    )


def request_records(n: int) -> list[logging.LogRecord]:
    """Real request records, made by the middleware for real requests."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    attach(Keep())
    drive(Client(), n)
    attach(None)
    return records


def plain_records(n: int) -> list[logging.LogRecord]:
    """Records without request facts: isolates the shipping from the formatter's masking."""
    return [
        logging.LogRecord("bench", logging.INFO, __file__, 1, "p" * 1000, (), None)
        for _ in range(n)
    ]


def cpu_tcp(n: int) -> None:
    for kind, records in (("request", request_records(n)), ("plain 1 KB", plain_records(n))):
        cpu_tcp_run(kind, records)


def cpu_tcp_run(kind: str, records: list[logging.LogRecord]) -> None:
    n = len(records)
    receiver = TCPReceiver().start()
    handler = LogstashHandler("127.0.0.1", receiver.port, **opts())
    handler.handle(records[0])
    handler.wait_idle(30)
    before = thread_cpu_s(handler)
    t0 = time.perf_counter()
    for record in records:
        handler.handle(record)
    handler.wait_idle(120)
    wall = time.perf_counter() - t0
    cpu = thread_cpu_s(handler) - before
    wait_for(lambda: len(receiver.lines) >= n + 1)
    handler.close()
    receiver.stop()
    out(
        f"worker CPU per event, LogstashFormatter + TCP, {kind} records (n={n})",
        f"{cpu / n * 1e6:.0f} µs; throughput {n / wall:.0f} events/s",
    )


def es_figures(n: int, seconds: float, rate: float) -> None:
    url = os.environ.get("REQLOG_TEST_ES_URL")
    if not url:
        out("Elasticsearch figures", "skipped (run under tests/testbed/esnode.py run --)")
        return
    from tests.helpers.es_fixtures import ENV_KEYS, make_client

    settings = {k: os.environ.get(v, "") for k, v in ENV_KEYS.items()}
    client = make_client(settings)
    auth: dict[str, Any] = {"basic_auth": (settings["username"], settings["password"])}
    if settings["ca_certs"]:
        auth["ca_certs"] = settings["ca_certs"]
    # CPU and throughput: real request records, ECS, bulk create.
    for kind, made in (("request", request_records(n + 1)), ("plain 1 KB", plain_records(n + 1))):
        index = f"reqlog-bench-{uuid.uuid4().hex[:8]}"
        handler = ElasticsearchHandler(url, index=index, **auth, **opts())
        handler.handle(made[0])  # warm-up: client created, connection open
        handler.wait_idle(60)
        records = made[1:]
        before = thread_cpu_s(handler)
        t0 = time.perf_counter()
        for record in records:
            handler.handle(record)
        handler.wait_idle(300)
        wall = time.perf_counter() - t0
        cpu = thread_cpu_s(handler) - before
        handler.close()
        client.indices.refresh(index=index)
        stored = client.count(index=index)["count"]
        out(
            f"worker CPU per event, ECSFormatter + ES bulk, {kind} records (n={len(records)})",
            f"{cpu / len(records) * 1e6:.0f} µs; throughput {len(records) / wall:.0f} events/s;"
            f" stored {stored}",
        )
        client.indices.delete(index=index)

    # Outage through a proxy that answers 503, then recovery, then a forced replay.
    index = f"reqlog-bench-{uuid.uuid4().hex[:8]}"
    proxy = ESProxy(url, settings["ca_certs"] or None)
    proxy.down = True
    auth.pop("ca_certs", None)  # the proxy speaks plain HTTP
    spool_dir = os.path.join(WORK, "es-outage")
    handler = ElasticsearchHandler(
        proxy.url, index=index, **auth, **opts(spool_dir=spool_dir, retry_max=5.0)
    )
    attach(handler)
    total = int(seconds * rate)
    drive(Client(), total, rate)
    attach(None)
    proxy.down = False
    handler.wait_idle(300)
    m = handler.metrics.snapshot()
    handler.close()
    client.indices.refresh(index=index)
    after_recovery = client.count(index=index)["count"]
    # Simulate a crash after sending but before the spool delete: replay all again.
    hits = client.search(index=index, size=10_000, source=False)["hits"]["hits"]
    orphan = SpoolFile.create(spool_dir)
    formatter = ECSFormatter()
    planted = [
        (
            h["_id"],
            formatter.format(logging.LogRecord("bench", 20, "", 0, "replayed", (), None)).encode(),
        )
        for h in hits
    ]
    orphan.append(planted, time.time())
    orphan.conn.close()
    os.close(orphan.lock_fd)
    replayer = ElasticsearchHandler(proxy.url, index=index, **auth, **opts(spool_dir=spool_dir))
    replayer.wait_idle(120)  # starts its worker, which adopts the planted spool
    replayer.close()
    client.indices.refresh(index=index)
    final = client.count(index=index)["count"]
    proxy.stop()
    out(
        f"ES outage {seconds:.0f}s at {rate:.0f} req/s then recovery: requests / docs",
        f"{total} / {after_recovery} (lost {total - after_recovery}); counters {json.dumps(m)}",
    )
    out(
        "  forced replay of all delivered events: docs after / duplicates",
        f"{final} / {final - after_recovery} (replayed {len(planted)})",
    )
    client.indices.delete(index=index)


def faults(kills: int) -> None:
    """The children of tests/handlers/test_faults.py, measured: a sink that is
    down, a 1 MiB spool cap, events of several sizes."""
    for size in (3_000, 8_000, 16_000, 48_000):
        child = start_outage(Path(tempfile.mkdtemp(dir=WORK)), size, 9_000, queue_size=200, cap=MiB)
        figures = json.loads(child.communicate()[0])
        out(
            f"outage, {size // 1000} KB events x 9,000, queue 200: RSS growth",
            f"{(figures['peak'] - figures['base']) / MiB:.1f} MiB "
            f"(spooled {figures['spooled']}, dropped {figures['dropped']})",
        )
    for size in (300, 2_100, 8_000, 30_000):
        spool_dir = Path(tempfile.mkdtemp(dir=WORK)) / "spool"
        child = start_outage(spool_dir, size, 6_000, queue_size=1_000, cap=MiB)
        peak = 0
        while child.poll() is None:
            peak = max(peak, spool_file_bytes(spool_dir))
        child.communicate()
        out(
            f"outage, {size:,} B events x 6,000: spool files on disk, peak",
            f"{peak:,} bytes = {peak / MiB:.2f}x the 1 MiB cap",
        )
    losses = []
    for run in range(kills):
        spool_dir = Path(tempfile.mkdtemp(dir=WORK)) / "spool"
        logged = kill_when_logged(start_steady(spool_dir, 200.0), 600 + 37 * run)
        losses.append(logged - len(spooled_messages(spool_dir)))
    out(
        f"kill -9 during an outage at 200 events/s (n={kills}): events lost",
        f"min {min(losses)} / median {statistics.median(losses):.0f} / max {max(losses)}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=["latency", "outage", "rss", "cpu", "es", "faults", "all"])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--outage-seconds", type=float, default=60.0)
    parser.add_argument("--outage-rate", type=float, default=200.0)
    parser.add_argument("--rss-seconds", type=float, default=120.0)
    parser.add_argument("--rss-rate", type=float, default=500.0)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--es-outage-seconds", type=float, default=20.0)
    parser.add_argument("--kills", type=int, default=10)
    args = parser.parse_args()
    try:
        if args.what in ("latency", "all"):
            latency(args.requests)
        if args.what in ("outage", "all"):
            outage(args.outage_seconds, args.outage_rate)
        if args.what in ("rss", "all"):
            rss(args.rss_seconds, args.rss_rate)
        if args.what in ("cpu", "all"):
            cpu_tcp(args.events)
        if args.what in ("es", "all"):
            es_figures(args.events, args.es_outage_seconds, args.outage_rate)
        if args.what in ("faults", "all"):
            faults(args.kills)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
