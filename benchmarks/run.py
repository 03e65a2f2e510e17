"""``make bench``: request overhead of django-reqlog against the floor, the seed
stack and the peers, plus shipper throughput and queue memory.

Method (see benchmarks/results.md for the latest figures):

* Every variant runs in its own short-lived process (``measure.py``): Django
  set up with ``benchmarks.settings`` (sessions + auth middleware, one view),
  a warm-up, then N requests of a 1 KB JSON POST driven straight into
  Django's WSGI handler (or ASGI handler with an async view), each timed.
* Rounds rotate through all variants in a fresh random order, so slow drift
  of a shared machine hits every variant alike. Ratios to the floor are taken
  per round (the floor ran minutes apart at most) and the median of those
  per-round ratios is reported. Latency percentiles pool all rounds.
* CPU per request is the whole process's CPU time over the N requests plus
  the final drain of the handler (queue empty, batches sent), so work moved to
  a shipper thread is counted. Peak RSS is the process's ``ru_maxrss``.
* Sinks (a reading and a stalled loopback TCP server) live in a separate
  process; Elasticsearch is the real node ``esnode.py run --optional`` starts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from benchmarks.variants import VARIANTS, Variant  # noqa: E402

PY = sys.executable

# The targets (issue 16), as ratios to the floor unless stated.
TARGET_TCP_MEDIAN = 1.15  # request thread, LogstashHandler
TARGET_TCP_P99 = 1.25
TARGET_FILE_MEDIAN = 1.40  # request thread, FileHandler + ECSFormatter
TARGET_CPU = 1.30  # whole process, shipping included
TARGET_WORKER_US = 15.0  # worker CPU per event, each formatter
TARGET_STALL_MAX_ADDED_MS = 5.0
TARGET_QUEUE_MB = 30.0
_COUNTS = ("queued", "sent", "spooled", "dropped", "failed")


@dataclass
class Samples:
    variant: Variant
    latencies: list[int] = field(default_factory=list)  # ns, all rounds
    round_median: dict[int, float] = field(default_factory=dict)
    round_p99: dict[int, float] = field(default_factory=dict)
    round_cpu: dict[int, float] = field(default_factory=dict)
    round_added_max: dict[int, float] = field(default_factory=dict)
    rss_kb: int = 0
    metrics: dict[str, Any] | None = None
    totals: dict[str, int] = field(default_factory=dict)  # shipper counts, all rounds


def _pct(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return float(sorted_values[index])


def _floor_of(variant: Variant) -> str:
    return "asgi-floor" if variant.asgi else "floor"


def _installed(variant: Variant) -> bool:
    import importlib.util

    modules = [m.split(".")[0] for m in (*variant.middleware, *variant.apps)]
    return all(importlib.util.find_spec(m) is not None for m in modules)


def _run_json(args: list[str], env: dict[str, str], timeout: float) -> dict[str, Any] | None:
    try:
        proc = subprocess.run(
            [PY, os.path.join(HERE, "measure.py"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        print(f"  ! {' '.join(args)}: timed out", file=sys.stderr)
        return None
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        print(f"  ! {' '.join(args)} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _start_sinks() -> tuple[subprocess.Popen[str], int, int]:
    sink = subprocess.Popen(
        [PY, os.path.join(HERE, "sink.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout is not None
    read_port, stall_port = (int(p) for p in sink.stdout.readline().split())
    return sink, read_port, stall_port


def _machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import django

    mem = ""
    try:
        with open("/proc/meminfo") as meminfo:
            mem = f", {int(meminfo.readline().split()[1]) // 1024} MiB RAM"
    except OSError:
        pass
    es = os.environ.get("REQLOG_TEST_ES_VERSION") or (
        "yes" if os.environ.get("REQLOG_TEST_ES_URL") else "not available"
    )
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; Django {django.get_version()}; "
        f"Elasticsearch {es}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "6")))
    parser.add_argument(
        "--requests", type=int, default=int(os.environ.get("BENCH_REQUESTS", "1000"))
    )
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--stall-seconds", type=float, default=5.0)
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=2.5,
        help="cap on one variant's timed requests per round (never under 300 requests)",
    )
    parser.add_argument("--shipper-events", type=int, default=9000)
    parser.add_argument(
        "--paired-requests",
        type=int,
        default=20_000,
        help="requests of each kind in the same-process paired measurement",
    )
    parser.add_argument("--only", nargs="*", help="variant names (default: all)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--output", default=os.path.join(HERE, "results.md"))
    args = parser.parse_args()

    has_es = bool(os.environ.get("REQLOG_TEST_ES_URL"))
    names = [
        name
        for name, v in VARIANTS.items()
        if (has_es or not v.needs_es) and (not args.only or name in args.only)
    ]
    missing = [name for name in names if not _installed(VARIANTS[name])]
    for name in missing:
        print(
            f"skipping {name}: its package is not installed "
            "(pip install -r benchmarks/requirements.txt)",
            file=sys.stderr,
        )
    names = [name for name in names if name not in missing]
    for floor in ("floor", "asgi-floor"):
        if any(_floor_of(VARIANTS[n]) == floor for n in names) and floor not in names:
            names.append(floor)
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    workdir = tempfile.mkdtemp(prefix="reqlog-bench-")
    load_before = os.getloadavg()
    started = time.monotonic()

    sink, read_port, stall_port = _start_sinks()
    env = dict(
        os.environ,
        REQLOG_BENCH_READ_PORT=str(read_port),
        REQLOG_BENCH_STALL_PORT=str(stall_port),
        REQLOG_BENCH_WORKDIR=workdir,
        PYTHONPATH=ROOT,
    )
    python_env = dict(env, REQLOG_NATIVE="0")  # the pure-Python fallback
    samples = {name: Samples(VARIANTS[name]) for name in names}
    try:
        for round_ in range(args.rounds):
            order = names[:]
            rng.shuffle(order)
            print(f"round {round_ + 1}/{args.rounds}: {' '.join(order)}", flush=True)
            for name in order:
                variant = VARIANTS[name]
                stall = args.stall_seconds if variant.stalled else 0.0
                result = _run_json(
                    [
                        "requests",
                        name,
                        str(args.requests),
                        str(args.warmup),
                        str(stall),
                        str(max(stall, args.max_seconds)),
                    ],
                    env if variant.native else python_env,
                    timeout=300,
                )
                if result is None:
                    continue
                lat = sorted(result["latencies_ns"])
                s = samples[name]
                s.latencies.extend(lat)
                s.round_median[round_] = statistics.median(lat)
                s.round_p99[round_] = _pct(lat, 0.99)
                s.round_cpu[round_] = result["cpu_per_request_us"]
                s.round_added_max[round_] = float(lat[-1])
                s.rss_kb = max(s.rss_kb, result["maxrss_kb"])
                s.metrics = result.get("shipper_metrics") or s.metrics
                if result.get("shipper_metrics"):
                    for key in _COUNTS:
                        s.totals[key] = s.totals.get(key, 0) + result["shipper_metrics"][key]
        shippers = _shippers(args, env, python_env, has_es)
        print("queue memory ...", flush=True)
        memory = _run_json(["queue-memory", "10000"], env, 600)
        print("worker CPU per event, with the core and in pure Python ...", flush=True)
        workers = {
            "core": _run_json(["worker", "3000"], env, 600),
            "python": _run_json(["worker", "1000"], python_env, 600),
        }
        print("request thread, paired in one process ...", flush=True)
        paired = _run_json(["paired", str(args.paired_requests)], env, 900)
    finally:
        assert sink.stdin is not None
        sink.stdin.close()
        sink.wait(10)

    counts = _instruction_counts()
    elapsed = time.monotonic() - started
    report = _report(
        samples,
        shippers,
        memory,
        workers,
        paired,
        counts,
        args,
        seed,
        load_before,
        os.getloadavg(),
        elapsed,
    )
    print()
    print(report)
    with open(args.output, "w") as out:
        out.write(report)
    print(f"\nwritten to {os.path.relpath(args.output, ROOT)}")
    return 0


def _shippers(
    args: argparse.Namespace, env: dict[str, str], python_env: dict[str, str], has_es: bool
) -> dict[str, dict[str, Any] | None]:
    """Shipper throughput and worker CPU: TCP and Elasticsearch, with the core
    and in pure Python; Kafka with the core."""
    runs = [("tcp", "tcp", env), ("tcp-py", "tcp", python_env)]
    if has_es:
        runs += [("es", "es", env), ("es-py", "es", python_env)]
    if os.environ.get("REQLOG_TEST_KAFKA_BOOTSTRAP"):
        runs.append(("kafka", "kafka", env))
    shippers: dict[str, dict[str, Any] | None] = {}
    for key, target, run_env in runs:
        print(f"shipper throughput ({key}) ...", flush=True)
        shippers[key] = _run_json(["shipper", target, str(args.shipper_events)], run_env, 600)
    return shippers


def _instruction_counts() -> dict[str, int]:
    """benchmarks/callgrind.py's counts per call, when valgrind is here."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        return {}
    print("instruction counts (callgrind) ...", flush=True)
    table = subprocess.run(
        [sys.executable, os.path.join(HERE, "callgrind.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    counts = {}
    for line in table.splitlines()[2:]:
        target, value = (cell.strip() for cell in line.strip("|").split("|"))
        counts[target] = int(value.replace(",", ""))
    return counts


def _ratio(s: Samples, floor: Samples, attr: str) -> float:
    mine: dict[int, float] = getattr(s, attr)
    base: dict[int, float] = getattr(floor, attr)
    ratios = [mine[r] / base[r] for r in mine if r in base and base[r] > 0]
    return statistics.median(ratios) if ratios else float("nan")


def _added_max_ms(s: Samples, floor: Samples) -> float:
    # The worst single request of the variant, minus the floor's median in
    # the same round: how much longer than usual one request ever took.
    values = [
        (s.round_added_max[r] - floor.round_median[r]) / 1e6
        for r in s.round_added_max
        if r in floor.round_median
    ]
    return max(values) if values else float("nan")


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _report(
    samples: dict[str, Samples],
    shippers: dict[str, dict[str, Any] | None],
    memory: dict[str, Any] | None,
    workers: dict[str, dict[str, Any] | None],
    paired: dict[str, Any] | None,
    counts: dict[str, int],
    args: argparse.Namespace,
    seed: int,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
    elapsed: float,
) -> str:
    lines = [
        "# django-reqlog benchmark results",
        "",
        f"Machine: {_machine()}.",
        f"Load average (1/5/15 min) before: {load_before[0]:.2f}/{load_before[1]:.2f}/"
        f"{load_before[2]:.2f}, after: {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f} "
        "(a shared machine: absolute numbers drift, ratios from the same run are what count).",
        "",
        f"Command: `make bench` (= `esnode.py run --optional -- python benchmarks/run.py`), "
        f"{args.rounds} rounds x up to {args.requests} requests per variant (at most "
        f"{args.max_seconds:g} s of them, at least 300) after {args.warmup} warm-up requests "
        f"(stalled sinks: {args.stall_seconds:g} s per round), "
        f"shuffle seed {seed}, {elapsed / 60:.1f} min.",
        "",
        "Request: `POST /api/orders/` with a 1,024-byte JSON body (password, card number, "
        "SSN-like value, 20+ line items), session + auth middleware, through Django's WSGI "
        "handler in-process (ASGI rows: `ASGIHandler`, async view). Rows marked *pure Python* "
        "run with `REQLOG_NATIVE=0`: what a platform without a wheel gets.",
        "",
        *_requests_section(samples),
        *_shippers_section(shippers, args),
    ]
    if memory is not None:
        lines += [
            f"Queue memory: {memory['count']:,} request records (1 KB bodies), as logging "
            f"hands them to a shipper's queue, hold {memory['rss_delta_mb']:.1f} MiB of "
            "resident memory.",
            "",
        ]
    lines += _workers_section(workers)
    lines += _counts_section(counts)
    lines += _paired_section(paired)
    lines += _targets(samples, shippers, memory, workers, counts)
    return "\n".join(lines) + "\n"


def _requests_section(samples: dict[str, Samples]) -> list[str]:
    lines = [
        "| variant | median µs | p99 µs | max µs | median xfloor | p99 xfloor | CPU µs/req | "
        "CPU xfloor | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in samples.values():
        if not s.latencies:
            lines.append(f"| {s.variant.label} | (failed) | | | | | | | |")
            continue
        floor = samples[_floor_of(s.variant)]
        lat = sorted(s.latencies)
        lines.append(
            f"| {s.variant.label} | {statistics.median(lat) / 1e3:.0f} | "
            f"{_pct(lat, 0.99) / 1e3:.0f} | {lat[-1] / 1e3:.0f} | "
            f"{_ratio(s, floor, 'round_median'):.2f} | {_ratio(s, floor, 'round_p99'):.2f} | "
            f"{statistics.median(s.round_cpu.values()):.0f} | "
            f"{_ratio(s, floor, 'round_cpu'):.2f} | {s.rss_kb / 1024:.1f} |"
        )
    return [
        *lines,
        "",
        "Ratios are medians of per-round ratios (each variant against the floor of its own "
        "round); µs columns pool every round. CPU is whole-process CPU time over the timed "
        "requests plus the final drain of the handler, divided by the request count.",
        "",
        "Where the events of the shipper rows went (all rounds, warm-up included): an event "
        "is dropped only when the queue is full.",
        "",
        "| variant | queued | sent | spooled | dropped | failed |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {s.variant.label} | "
            + " | ".join(f"{s.totals.get(k, 0):,}" for k in _COUNTS)
            + " |"
            for s in samples.values()
            if s.totals
        ),
        "",
    ]


_SHIPPER_LABELS = (
    ("tcp", "LogstashHandler → reading TCP sink"),
    ("tcp-py", "LogstashHandler → reading TCP sink, pure Python"),
    ("es", "ElasticsearchHandler → real Elasticsearch"),
    ("es-py", "ElasticsearchHandler → real Elasticsearch, pure Python"),
    ("kafka", "KafkaHandler → real Kafka broker"),
)


def _shippers_section(
    shippers: dict[str, dict[str, Any] | None], args: argparse.Namespace
) -> list[str]:
    lines = [
        "## Shippers: format, frame and send, on the worker thread",
        "",
        "| target | events/s (wall) | worker CPU µs/event | events/s per worker core |",
        "|---|---:|---:|---:|",
    ]
    for key, label in _SHIPPER_LABELS:
        shipper = shippers.get(key)
        if shipper is None:
            if key in ("es", "kafka"):
                variable = {"es": "REQLOG_TEST_ES_URL", "kafka": "REQLOG_TEST_KAFKA_BOOTSTRAP"}
                lines.append(f"| {label} | not run (no {variable[key]}) | | |")
            continue
        best = shipper["best"]
        us = best["worker_cpu_us_per_event"]
        lines.append(
            f"| {label} | {best['events_per_s']:,.0f} | {us:.1f} | {1e6 / us if us else 0:,.0f} |"
        )
    return [
        *lines,
        "",
        f"{args.shipper_events - 1} real request records (made by the middleware and handed "
        "over by logging) go to a fresh handler's `handle()`; events/s is wall time until the "
        "handler is idle; worker CPU is the worker thread's own utime+stime from /proc (best "
        "of 3 runs), with the sender thread and the sink competing for the two cores.",
        "",
        *_kafka_note(shippers.get("kafka")),
    ]


def _kafka_note(kafka: dict[str, Any] | None) -> list[str]:
    """librdkafka sends from threads of its own: count the whole process too."""
    if kafka is None or "process_cpu_us_per_event" not in kafka["best"]:
        return []
    us = kafka["best"]["process_cpu_us_per_event"]
    return [
        f"Kafka, whole process (worker, sender and librdkafka's threads): {us:.1f} µs/event, "
        f"{1e6 / us if us else 0:,.0f} events/s per core; the broker runs on the same machine "
        "(idempotent producer, acks=all, a single broker).",
        "",
    ]


def _worker_us(workers: dict[str, dict[str, Any] | None], impl: str, name: str) -> float | None:
    run = workers.get(impl)
    return None if run is None else float(run["per_event_us"][name])


def _workers_section(workers: dict[str, dict[str, Any] | None]) -> list[str]:
    if not any(workers.values()):
        return []
    lines = [
        "## Worker CPU per event: format and encode, one thread",
        "",
        "Real request records are formatted and encoded as a shipper's worker does it, on one "
        "thread with nothing else running (`python benchmarks/measure.py worker N`): best of "
        "three runs over fresh records.",
        "",
        "| formatter | compiled core µs/event | events/s | pure Python µs/event | events/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in ("ECSFormatter", "LogstashFormatter"):
        cells = []
        for impl in ("core", "python"):
            us = _worker_us(workers, impl, name)
            cells += ["—", "—"] if us is None else [f"{us:.1f}", f"{1e6 / us:,.0f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*lines, ""]


_COUNT_ROWS = (
    ("request-floor", "a whole request, no logging (the floor)"),
    ("request-queue", "a whole request, queue-only handler (request thread, no formatting)"),
    ("request-file-core", "a whole request, FileHandler + ECSFormatter, compiled core"),
    ("request-file-python", "a whole request, FileHandler + ECSFormatter, pure Python"),
    ("ecs-core", "one request record through ECSFormatter (format, encode), compiled core"),
    ("ecs-python", "one request record through ECSFormatter, pure Python"),
    ("logstash-core", "one request record through LogstashFormatter, compiled core"),
    ("logstash-python", "one request record through LogstashFormatter, pure Python"),
    ("mask-core", "`mask_json_text` on the 1 KB body, compiled core"),
    ("mask-reference", "`mask_json_text` on the 1 KB body, pure-Python reference"),
)


def _counts_section(counts: dict[str, int]) -> list[str]:
    if not counts:
        return ["## Instruction counts", "", "Not measured: no valgrind.", ""]
    floor = counts.get("request-floor")
    lines = [
        "## Instruction counts (callgrind)",
        "",
        "Instructions per call, which do not drift with the load of the machine "
        "(`python benchmarks/callgrind.py`: only the calls are instrumented, and the "
        "difference of two runs of different lengths is divided by the difference in calls).",
        "",
        "| what | instructions | x floor request |",
        "|---|---:|---:|",
    ]
    for key, label in _COUNT_ROWS:
        if key in counts:
            ratio = f"{counts[key] / floor:.2f}" if floor and key.startswith("request") else ""
            lines.append(f"| {label} | {counts[key]:,} | {ratio} |")
    return [*lines, ""]


def _paired_figures(paired: dict[str, Any]) -> tuple[float, float, float, float, float]:
    """Floor median, reqlog median, median ratio, p99 ratio, added median µs."""
    base = sorted(paired["floor_ns"])
    mine = sorted(paired["reqlog_ns"])
    floor_med, mine_med = statistics.median(base), statistics.median(mine)
    return (
        floor_med / 1e3,
        mine_med / 1e3,
        mine_med / floor_med,
        _pct(mine, 0.99) / _pct(base, 0.99),
        (mine_med - floor_med) / 1e3,
    )


def _paired_section(paired: dict[str, Any] | None) -> list[str]:
    if paired is None:
        return []
    floor_med, mine_med, ratio, p99_ratio, added = _paired_figures(paired)
    return [
        "## Request thread, paired in one process",
        "",
        f"{paired['count']:,} requests each, alternating one by one between the floor's "
        "middleware chain and the same chain plus `RequestLogMiddleware` (queue-only handler, "
        "no shipping thread), in one process: the drift that separates the rounds' processes "
        "cancels out.",
        "",
        "| floor median µs | django-reqlog median µs | added µs | median xfloor | p99 xfloor |",
        "|---:|---:|---:|---:|---:|",
        f"| {floor_med:.0f} | {mine_med:.0f} | {added:.0f} | {ratio:.2f} | {p99_ratio:.2f} |",
        "",
    ]


def _ratios(samples: dict[str, Samples], name: str) -> tuple[float, float, float] | None:
    """(median, p99, CPU) ratios of a variant to its floor, or None if it did not run."""
    s = samples.get(name)
    if s is None or not s.latencies or _floor_of(s.variant) not in samples:
        return None
    floor = samples[_floor_of(s.variant)]
    return (
        _ratio(s, floor, "round_median"),
        _ratio(s, floor, "round_p99"),
        _ratio(s, floor, "round_cpu"),
    )


def _count_ratio(counts: dict[str, int], *keys: str) -> str:
    """The callgrind estimate of a ratio: the sum of the counts over the floor's."""
    if not counts.get("request-floor") or any(k not in counts for k in keys):
        return "—"
    return f"{sum(counts[k] for k in keys) / counts['request-floor']:.2f}x"


def _targets(
    samples: dict[str, Samples],
    shippers: dict[str, dict[str, Any] | None],
    memory: dict[str, Any] | None,
    workers: dict[str, dict[str, Any] | None],
    counts: dict[str, int],
) -> list[str]:
    lines = [
        "## Targets",
        "",
        "The callgrind column estimates the same ratio from instruction counts: requests "
        "from the table above, a shipped request as the queue-only request plus formatting "
        "its record (sending not counted).",
        "",
        "| target | measured | callgrind | pure Python (no wheel) | result |",
        "|---|---|---|---|---|",
    ]
    lines += _worker_targets(workers, counts)
    lines += _request_targets(samples, counts)
    lines += _shipping_targets(samples, memory)
    return [*lines, ""]


def _worker_targets(workers: dict[str, dict[str, Any] | None], counts: dict[str, int]) -> list[str]:
    lines = []
    for name, key in (("ECSFormatter", "ecs"), ("LogstashFormatter", "logstash")):
        core, python = _worker_us(workers, "core", name), _worker_us(workers, "python", name)
        if core is None:
            continue
        instructions = f"{counts[key + '-core']:,} instr." if key + "-core" in counts else "—"
        fallback = "—" if python is None else f"{python:.1f} µs"
        lines.append(
            f"| worker CPU per event, {name}: ≤ {TARGET_WORKER_US:g} µs | {core:.1f} µs | "
            f"{instructions} | {fallback} | {_verdict(core <= TARGET_WORKER_US)} |"
        )
    return lines


def _request_targets(samples: dict[str, Samples], counts: dict[str, int]) -> list[str]:
    lines = []
    file, file_py = _ratios(samples, "reqlog-file"), _ratios(samples, "reqlog-file-py")
    if file is not None:
        fallback = "—" if file_py is None else f"{file_py[0]:.2f}x"
        lines.append(
            f"| request thread, FileHandler + ECSFormatter (README setup): median ≤ "
            f"{TARGET_FILE_MEDIAN:.2f}x | {file[0]:.2f}x | "
            f"{_count_ratio(counts, 'request-file-core')} | {fallback} | "
            f"{_verdict(file[0] <= TARGET_FILE_MEDIAN)} |"
        )
    for name, what, formatter in (
        ("reqlog-es", "into Elasticsearch", "ecs"),
        ("reqlog-tcp", "over TCP", "logstash"),
    ):
        mine, py = _ratios(samples, name), _ratios(samples, name + "-py")
        if mine is None:
            continue
        fallback = "—" if py is None else f"{py[2]:.2f}x"
        estimate = _count_ratio(counts, "request-queue", f"{formatter}-core")
        lines.append(
            f"| whole-process CPU per request, shipping {what}: ≤ {TARGET_CPU:.2f}x | "
            f"{mine[2]:.2f}x | {estimate} | {fallback} | {_verdict(mine[2] <= TARGET_CPU)} |"
        )
    return lines


def _shipping_targets(samples: dict[str, Samples], memory: dict[str, Any] | None) -> list[str]:
    lines = []
    tcp, tcp_py = _ratios(samples, "reqlog-tcp"), _ratios(samples, "reqlog-tcp-py")
    if tcp is not None:
        fallback = "—" if tcp_py is None else f"{tcp_py[0]:.2f}x, {tcp_py[1]:.2f}x"
        ok = tcp[0] <= TARGET_TCP_MEDIAN and tcp[1] <= TARGET_TCP_P99
        lines.append(
            f"| request thread, LogstashHandler: median ≤ {TARGET_TCP_MEDIAN:.2f}x, p99 ≤ "
            f"{TARGET_TCP_P99:.2f}x | {tcp[0]:.2f}x, {tcp[1]:.2f}x | — | {fallback} | "
            f"{_verdict(ok)} |"
        )
    stalled, floor = samples.get("reqlog-stalled"), samples.get("floor")
    if stalled is not None and floor is not None and stalled.latencies:
        added = _added_max_ms(stalled, floor)
        lost = stalled.totals.get("dropped", 0)
        ok = lost == 0 and added < TARGET_STALL_MAX_ADDED_MS
        lines.append(
            f"| stalled sink: 0 lost, worst added latency < {TARGET_STALL_MAX_ADDED_MS:g} ms | "
            f"{lost:,} lost, +{added:.1f} ms (the floor's own worst: "
            f"+{_added_max_ms(floor, floor):.1f} ms) | — | — | {_verdict(ok)} |"
        )
    if memory is not None:
        mb = memory["rss_delta_mb"]
        lines.append(
            f"| 10,000-event queue < {TARGET_QUEUE_MB:g} MB | {mb:.1f} MiB | — | — | "
            f"{_verdict(mb < TARGET_QUEUE_MB)} |"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
