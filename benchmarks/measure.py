"""One benchmark process: set up one variant, drive requests in-process, print JSON.

``python benchmarks/measure.py requests VARIANT N`` times N requests through
Django's WSGI (or ASGI) handler after a warm-up, and reports per-request
latencies, whole-process CPU (the N requests plus the final drain of the
handlers, so work moved to a worker thread is counted) and peak RSS.
``shipper VARIANT M`` and ``queue-memory`` are the shipper and memory figures;
``worker N`` is benchmarks/worker_split.py's.
run.py starts these; the last stdout line is the JSON result.
"""

from __future__ import annotations

import asyncio
import gc
import io
import json
import logging
import os
import queue
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _body() -> bytes:
    """A 1 KB JSON order with a password, a card number and an SSN-like value."""
    doc: dict[str, Any] = {
        "customer": {"email": "alice@example.com", "name": "Alice Example"},
        "password": "correct horse battery staple",
        "card_number": "4111111111111111",
        "cvv": "123",
        "note": "ssn 123-45-6789 on file",
        "items": [],
    }
    i = 0
    while len(json.dumps(doc)) < 1000:
        doc["items"].append({"sku": f"SKU-{i:05d}", "qty": i % 5 + 1, "price": "19.99"})
        i += 1
    raw = json.dumps(doc).encode()
    return raw + b" " * (1024 - len(raw))  # exactly 1024 bytes


BODY = _body()
HEADERS = {
    "HTTP_HOST": "api.example.com",
    "HTTP_USER_AGENT": "bench-client/1.0 (+https://example.com)",
    "HTTP_ACCEPT": "application/json",
    "HTTP_X_FORWARDED_FOR": "203.0.113.9",
}


def _setup(variant_name: str, workdir: str) -> Any:
    os.environ["REQLOG_BENCH_VARIANT"] = variant_name
    os.environ["REQLOG_BENCH_WORKDIR"] = workdir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    import django

    django.setup()
    from benchmarks.variants import VARIANTS, install_logging

    variant = VARIANTS[variant_name]
    if "drf_api_logger" in variant.apps:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
    return variant, install_logging(variant, workdir)


def wsgi_driver() -> Callable[[], int]:
    from django.core.handlers.wsgi import WSGIHandler

    app = WSGIHandler()
    template = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/orders/",
        "QUERY_STRING": "page=1&token=abc123",
        "SCRIPT_NAME": "",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(BODY)),
        "SERVER_NAME": "api.example.com",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.7",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **HEADERS,
    }
    status: list[str] = []

    def start_response(s: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        status.append(s)
        return None

    clock = time.perf_counter_ns

    def one() -> int:
        environ = dict(template)
        environ["wsgi.input"] = io.BytesIO(BODY)
        start = clock()
        response = app(environ, start_response)
        for _ in response:
            pass
        response.close()
        elapsed = clock() - start
        if status.pop() != "201 Created":
            raise SystemExit("unexpected response status")
        return elapsed

    return one


def asgi_driver() -> Callable[[int], list[int]]:
    from django.core.handlers.asgi import ASGIHandler

    app = ASGIHandler()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/async/orders/",
        "raw_path": b"/api/async/orders/",
        "query_string": b"page=1&token=abc123",
        "root_path": "",
        "headers": [
            (b"host", b"api.example.com"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
            (b"user-agent", HEADERS["HTTP_USER_AGENT"].encode()),
            (b"accept", b"application/json"),
            (b"x-forwarded-for", b"203.0.113.9"),
        ],
        "client": ("10.0.0.7", 50000),
        "server": ("api.example.com", 80),
    }
    clock = time.perf_counter_ns

    async def one() -> int:
        done = asyncio.Event()
        given = False
        statuses: list[int] = []

        async def receive() -> dict[str, Any]:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": BODY, "more_body": False}
            await done.wait()  # the client stays connected until the response ends
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        start = clock()
        await app(dict(scope), receive, send)
        elapsed = clock() - start
        if statuses != [201]:
            raise SystemExit(f"unexpected response status {statuses}")
        return elapsed

    loop = asyncio.new_event_loop()

    def run(n: int) -> list[int]:
        async def many() -> list[int]:
            return [await one() for _ in range(n)]

        return loop.run_until_complete(many())

    return run


def _run_requests(
    variant_name: str, n: int, warmup: int, min_seconds: float, max_seconds: float, workdir: str
) -> dict[str, Any]:
    variant, stack = _setup(variant_name, workdir)
    run: Callable[[int], list[int]]
    if variant.asgi:
        run = asgi_driver()
    else:
        one = wsgi_driver()

        def run(count: int) -> list[int]:
            return [one() for _ in range(count)]

    run(warmup)
    stack.drain()
    gc.collect()
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    # At most ``max_seconds`` per run (never under 300 requests), so a slow
    # variant costs the same wall time as a fast one and `make bench` stays short.
    latencies = run(min(n, 300))
    while len(latencies) < n and time.perf_counter() - wall0 < max_seconds:
        latencies += run(min(100, n - len(latencies)))
    # Stalled sinks: keep going for a fixed time, so the seed handler's
    # block-then-back-off cycle (1 s blocks, retries after 1, 2, 4... s) and our
    # handler's spooling are both inside the timed window.
    while time.perf_counter() - wall0 < min_seconds:
        latencies += run(100)
    stack.drain()
    wall1 = time.perf_counter()
    cpu1 = time.process_time()
    n = len(latencies)
    result: dict[str, Any] = {
        "variant": variant_name,
        "native": _native_on(),
        "n": n,
        "warmup": warmup,
        "latencies_ns": latencies,
        "cpu_per_request_us": (cpu1 - cpu0) / n * 1e6,
        "wall_s": wall1 - wall0,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    for handler in stack.handlers:
        metrics = getattr(handler, "metrics", None)
        if metrics is not None:
            result["shipper_metrics"] = metrics.status()
    stack.close()
    return result


def _native_on() -> bool:
    from django_reqlog import masking

    return masking.native_enabled()


def _thread_cpu_s(native_id: int) -> float:
    """utime+stime of one thread of this process, from /proc (Linux)."""
    with open(f"/proc/self/task/{native_id}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Keep(logging.Handler):
    """Keeps records (``events``: what a shipper queues of them), no formatting."""

    def __init__(self, size: int, *, events: bool = False) -> None:
        super().__init__()
        self.queue: queue.Queue[Any] = queue.Queue(size)
        self.events = events

    def emit(self, record: logging.LogRecord) -> None:
        from django_reqlog.handlers.base import _queued

        self.queue.put_nowait(_queued(record) if self.events else record)


def _drive(keep: _Keep, count: int) -> list[Any]:
    """``count`` real requests through the middleware; what ``keep`` kept of them."""
    logger = logging.getLogger("django_reqlog")
    previous, logger.handlers[:] = list(logger.handlers), [keep]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    one = wsgi_driver()
    for _ in range(count):
        one()
    logger.handlers[:] = previous
    return [keep.queue.get_nowait() for _ in range(count)]


def _records(count: int) -> list[logging.LogRecord]:
    """Real request records, made by the middleware on real requests."""
    return _drive(_Keep(count), count)


def _events(count: int) -> list[dict[str, Any]]:
    """Real request events, made by the middleware on real requests, as a
    shipper queues them (a copy of each record's attributes)."""
    return _drive(_Keep(count, events=True), count)


def _run_shipper(target: str, count: int, workdir: str) -> dict[str, Any]:
    """Events/s and worker CPU per event: format, frame and send ``count`` records."""
    # Kafka shares the TCP variant's Django setup: only the handler differs.
    variant_name = {"tcp": "reqlog-tcp", "es": "reqlog-es", "kafka": "reqlog-tcp"}[target]
    _, stack = _setup(variant_name, workdir)
    stack.close()  # only its configuration is wanted; a fresh handler is timed below
    from benchmarks.variants import es_options
    from django_reqlog.handlers import (
        ElasticsearchHandler,
        KafkaHandler,
        LogstashHandler,
        ShipperHandler,
    )

    spool = os.path.join(workdir, f"spool-shipper-{target}-{os.getpid()}")
    results = []
    for _ in range(3):
        records = _records(count)
        handler: ShipperHandler
        if target == "es":
            handler = ElasticsearchHandler(
                os.environ["REQLOG_TEST_ES_URL"],
                index="logs-django.reqlog-bench",
                spool_dir=spool,
                queue_size=count,
                **es_options(),
            )
        elif target == "kafka":
            handler = KafkaHandler(
                os.environ["REQLOG_TEST_KAFKA_BOOTSTRAP"],
                topic="reqlog-bench",
                spool_dir=spool,
                queue_size=count,
            )
        else:
            port = int(os.environ["REQLOG_BENCH_READ_PORT"])
            handler = LogstashHandler("127.0.0.1", port, spool_dir=spool, queue_size=count)
        handler.handle(records[0])  # connect first
        handler.wait_idle(30.0)
        assert handler._worker is not None  # started by the first event
        worker = handler._worker.thread
        assert worker.native_id is not None
        gc.collect()
        cpu0 = _thread_cpu_s(worker.native_id)
        process0 = time.process_time()
        wall0 = time.perf_counter()
        for record in records[1:]:
            handler.handle(record)
        handler.wait_idle(120.0)
        wall1 = time.perf_counter()
        cpu1 = _thread_cpu_s(worker.native_id)
        process1 = time.process_time()
        sent = handler.metrics.status()
        handler.close()
        events = count - 1
        results.append(
            {
                "events_per_s": events / (wall1 - wall0),
                "worker_cpu_us_per_event": (cpu1 - cpu0) / events * 1e6,
                # Every thread: the sender and a client library's own threads too.
                "process_cpu_us_per_event": (process1 - process0) / events * 1e6,
                "metrics": sent,
            }
        )
        del records
    best = min(results, key=lambda r: r["worker_cpu_us_per_event"])
    return {"target": target, "count": count, "runs": results, "best": best}


def _rss_kb() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def _run_queue_memory(count: int, workdir: str) -> dict[str, Any]:
    """Resident memory held by ``count`` queued request events (1 KB bodies),
    and, for comparison, by as many LogRecords of the same requests."""
    _setup("reqlog-tcp", workdir)[1].close()
    _events(2000)  # warm caches and the allocator
    _records(2000)
    gc.collect()
    before = _rss_kb()
    events = _events(count)
    gc.collect()
    after = _rss_kb()
    records = _records(count)
    gc.collect()
    after_records = _rss_kb()
    return {
        "count": len(events),
        "rss_delta_mb": (after - before) / 1024,
        "records_rss_delta_mb": (after_records - after) / 1024,
        "records_count": len(records),
    }


def _run_paired(count: int, workdir: str) -> dict[str, Any]:
    """The request thread's own cost, as precisely as this machine allows.

    One process holds two WSGI handlers, built from the same settings: the
    floor's middleware chain, and the same chain plus RequestLogMiddleware
    feeding the queue-only handler (no shipping thread). Requests alternate
    between the two, one each, so drift of the machine, the CPU's clock and
    the allocator hit both alike; separate processes, as in the rounds,
    differ by more than the effect being measured.
    """
    _, stack = _setup("reqlog-queue", workdir)
    from django.conf import settings

    full = list(settings.MIDDLEWARE)
    with_reqlog = wsgi_driver()
    settings.MIDDLEWARE = [m for m in full if "django_reqlog" not in m]
    floor = wsgi_driver()
    settings.MIDDLEWARE = full
    for _ in range(500):
        floor()
        with_reqlog()
    gc.collect()
    base: list[int] = []
    mine: list[int] = []
    for _ in range(count):
        base.append(floor())
        mine.append(with_reqlog())
    stack.close()
    return {"count": count, "floor_ns": base, "reqlog_ns": mine}


def main() -> None:
    mode = sys.argv[1]
    workdir = os.environ.get("REQLOG_BENCH_WORKDIR") or tempfile.mkdtemp(prefix="reqlog-bench-")
    if mode == "requests":
        out = _run_requests(
            sys.argv[2],
            int(sys.argv[3]),
            int(sys.argv[4]),
            float(sys.argv[5]),
            float(sys.argv[6]),
            workdir,
        )
    elif mode == "shipper":
        out = _run_shipper(sys.argv[2], int(sys.argv[3]), workdir)
    elif mode == "queue-memory":
        out = _run_queue_memory(int(sys.argv[2]), workdir)
    elif mode == "paired":
        out = _run_paired(int(sys.argv[2]), workdir)
    elif mode == "worker":
        _setup("reqlog-queue", workdir)
        from benchmarks.worker_split import measure_worker

        count = int(sys.argv[2])
        out = {"count": count, "native": _native_on(), "per_event_us": measure_worker(count)}
    else:
        raise SystemExit(f"unknown mode {mode}")
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    # Daemon threads of stalled handlers may still be blocked in a send.
    os._exit(0)


if __name__ == "__main__":
    main()
