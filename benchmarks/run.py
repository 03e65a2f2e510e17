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

# The targets, as ratios to the floor unless stated.
TARGET_MEDIAN = 1.10
TARGET_P99 = 1.25
TARGET_CPU_ES = 1.30
TARGET_STALL_MAX_ADDED_MS = 5.0
TARGET_SHIPPER_EPS_CORE = 20_000
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
                    env,
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
        print("shipper throughput (TCP) ...", flush=True)
        shippers = {"tcp": _run_json(["shipper", "tcp", str(args.shipper_events)], env, 600)}
        if has_es:
            print("shipper throughput (Elasticsearch) ...", flush=True)
            shippers["es"] = _run_json(["shipper", "es", str(args.shipper_events)], env, 600)
        if os.environ.get("REQLOG_TEST_KAFKA_BOOTSTRAP"):
            print("shipper throughput (Kafka) ...", flush=True)
            shippers["kafka"] = _run_json(["shipper", "kafka", str(args.shipper_events)], env, 600)
        print("queue memory ...", flush=True)
        memory = _run_json(["queue-memory", "10000"], env, 600)
        print("worker CPU with and without body masking ...", flush=True)
        split = _run_json(["worker-split", "3000"], env, 600)
        print("request thread, paired in one process ...", flush=True)
        paired = _run_json(["paired", str(args.paired_requests)], env, 900)
    finally:
        assert sink.stdin is not None
        sink.stdin.close()
        sink.wait(10)

    elapsed = time.monotonic() - started
    report = _report(
        samples, shippers, memory, split, paired, args, seed, load_before, os.getloadavg(), elapsed
    )
    report += _masking_instructions()
    print()
    print(report)
    with open(args.output, "w") as out:
        out.write(report)
    print(f"\nwritten to {os.path.relpath(args.output, ROOT)}")
    return 0


def _masking_instructions() -> str:
    """The callgrind table of benchmarks/mask_callgrind.py, when valgrind is here."""
    if shutil.which("valgrind") is None:
        return "\n## Masking the 1 KB body: instructions per call\n\nNot measured: no valgrind.\n"
    print("masking instructions (callgrind) ...", flush=True)
    table = subprocess.run(
        [sys.executable, os.path.join(HERE, "mask_callgrind.py"), "core", "reference"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return (
        "\n## Masking the 1 KB body: instructions per call\n\n"
        "`mask_json_text` on the request body above, with the benchmark's settings (two "
        "extra sensitive fields, the SSN-like value pattern), counted by callgrind: the "
        "difference between two runs of different lengths, divided by the difference in "
        "calls (`python benchmarks/mask_callgrind.py`). `core` is the compiled core, "
        "`reference` the pure-Python masker an install without it uses.\n\n" + table
    )


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
    split: dict[str, Any] | None,
    paired: dict[str, Any] | None,
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
        "handler in-process (ASGI rows: `ASGIHandler`, async view).",
        "",
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
    lines += [
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
        "## Shippers: format, frame and send, on the worker thread",
        "",
        "| target | events/s (wall) | worker CPU µs/event | events/s per worker core |",
        "|---|---:|---:|---:|",
    ]
    for target, label in (
        ("tcp", "LogstashHandler → reading TCP sink"),
        ("es", "ElasticsearchHandler → real Elasticsearch"),
        ("kafka", "KafkaHandler → real Kafka broker"),
    ):
        shipper = shippers.get(target)
        if shipper is None:
            if target in ("es", "kafka"):
                variable = {"es": "REQLOG_TEST_ES_URL", "kafka": "REQLOG_TEST_KAFKA_BOOTSTRAP"}
                lines.append(f"| {label} | not run (no {variable[target]}) | | |")
            continue
        best = shipper["best"]
        us = best["worker_cpu_us_per_event"]
        lines.append(
            f"| {label} | {best['events_per_s']:,.0f} | {us:.1f} | {1e6 / us if us else 0:,.0f} |"
        )
    lines += [
        "",
        f"{args.shipper_events - 1} real request events (made by the middleware, as it queues "
        "them for a shipper) are handed to a fresh handler; events/s is wall time until the "
        "handler is idle; worker CPU is the worker thread's own utime+stime from /proc "
        "(best of 3 runs).",
        "",
        *_kafka_note(shippers.get("kafka")),
    ]
    if memory is not None:
        lines += [
            f"Queue memory: {memory['count']:,} queued request events (1 KB bodies) hold "
            f"{memory['rss_delta_mb']:.1f} MiB of resident memory "
            f"(as LogRecords, the same requests hold {memory['records_rss_delta_mb']:.1f} MiB).",
            "",
        ]
    lines += _split_section(split)
    lines += _paired_section(paired)
    lines += _targets(samples, shippers, memory, paired)
    return "\n".join(lines) + "\n"


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


def _split_section(split: dict[str, Any] | None) -> list[str]:
    if split is None:
        return []
    lines = [
        "## Worker CPU per event, and the share of masking the body",
        "",
        f"{split['count']:,} real request events are turned into JSON lines as the worker does "
        "it (record, format, encode), on one thread with no sending; best of 9 interleaved runs. "
        "The second column copies the body unmasked: a what-if, never a configuration, that "
        "shows what the rest of formatting costs.",
        "",
        "| formatter | µs/event | events/s | body copied unmasked (what-if) µs/event | events/s "
        "| body masking's share |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, figures in split["split"].items():
        full, unmasked = figures["full"], figures["body_unmasked"]
        lines.append(
            f"| {name} | {full:.1f} | {1e6 / full:,.0f} | {unmasked:.1f} | {1e6 / unmasked:,.0f} "
            f"| {(full - unmasked) / full:.0%} |"
        )
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


def _targets(
    samples: dict[str, Samples],
    shippers: dict[str, dict[str, Any] | None],
    memory: dict[str, Any] | None,
    paired: dict[str, Any] | None,
) -> list[str]:
    lines = ["## Targets", "", "| target | measured | result |", "|---|---|---|"]
    if paired is not None:
        _, _, ratio, p99_ratio, _ = _paired_figures(paired)
        lines.append(
            "| request thread, paired in one process (queue only): median ≤ 1.10x, "
            f"p99 ≤ 1.25x | {ratio:.2f}x, {p99_ratio:.2f}x | "
            f"{_verdict(ratio <= TARGET_MEDIAN and p99_ratio <= TARGET_P99)} |"
        )
    floor = samples.get("floor")
    for name in (
        "reqlog-queue",
        "reqlog-tcp",
        "reqlog-es",
        "asgi-reqlog-tcp",
        "asgi-reqlog-es",
        "reqlog-file",
    ):
        s = samples.get(name)
        if s is None or floor is None or not s.latencies:
            continue
        base = samples[_floor_of(s.variant)]
        med = _ratio(s, base, "round_median")
        p99 = _ratio(s, base, "round_p99")
        lines.append(
            f"| request thread, {s.variant.label}: median ≤ 1.10x, p99 ≤ 1.25x | "
            f"{med:.2f}x, {p99:.2f}x | {_verdict(med <= TARGET_MEDIAN and p99 <= TARGET_P99)} |"
        )
    for name in ("reqlog-es", "reqlog-tcp"):
        s = samples.get(name)
        if s is None or floor is None or not s.latencies:
            continue
        cpu = _ratio(s, floor, "round_cpu")
        what = (
            "incl. shipping to Elasticsearch" if name == "reqlog-es" else "incl. shipping over TCP"
        )
        lines.append(
            f"| whole-process CPU {what} ≤ 1.30x | {cpu:.2f}x | {_verdict(cpu <= TARGET_CPU_ES)} |"
        )
    s = samples.get("reqlog-stalled")
    if s is not None and floor is not None and s.latencies:
        med = _ratio(s, floor, "round_median")
        added = _added_max_ms(s, floor)
        floor_added = _added_max_ms(floor, floor)
        lines.append(
            f"| stalled sink: median ≤ 1.10x, max added latency < 5 ms | {med:.2f}x, "
            f"{added:.1f} ms (the floor's own worst request: +{floor_added:.1f} ms) | "
            f"{_verdict(med <= TARGET_MEDIAN and added < TARGET_STALL_MAX_ADDED_MS)} |"
        )
    seed = samples.get("seed-stalled")
    if seed is not None and floor is not None and seed.latencies:
        lines.append(
            f"| (context) seed stack, stalled sink | {_ratio(seed, floor, 'round_median'):.2f}x "
            f"median, worst request +{_added_max_ms(seed, floor):.0f} ms | — |"
        )
    tcp = shippers.get("tcp")
    if tcp is not None:
        us = tcp["best"]["worker_cpu_us_per_event"]
        eps = 1e6 / us if us else 0.0
        lines.append(
            f"| shipper ≥ 20,000 events/s/core, TCP format-and-frame | {eps:,.0f} events/s/core "
            f"({us:.1f} µs/event) | {_verdict(eps >= TARGET_SHIPPER_EPS_CORE)} |"
        )
    es = shippers.get("es")
    if es is not None:
        lines.append(
            f"| worker CPU per event into Elasticsearch (reported) | "
            f"{es['best']['worker_cpu_us_per_event']:.1f} µs/event | — |"
        )
    if memory is not None:
        mb = memory["rss_delta_mb"]
        lines.append(
            f"| 10,000-event queue < 30 MB | {mb:.1f} MiB | {_verdict(mb < TARGET_QUEUE_MB)} |"
        )
    lines.append("")
    return lines


if __name__ == "__main__":
    sys.exit(main())
