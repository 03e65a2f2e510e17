"""Worker CPU per request event: what a shipper's worker does with a queued
request record, formatting it and encoding the line, on one thread.

    python benchmarks/measure.py worker 3000     # JSON; make bench prints the table

Real request records (the benchmark's 1 KB JSON POST, made by the middleware
and handed over by logging, as a shipper's queue holds them) are formatted by
each formatter. run.py runs this twice: with the compiled core, and with
``REQLOG_NATIVE=0`` (what a platform without a wheel gets). CPU time of this
thread only; fresh records for each of three runs, the best run kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


def _cpu_per_event(count: int, formatter: logging.Formatter) -> float:
    from benchmarks.measure import _records

    best = float("inf")
    for _ in range(3):
        records = _records(count)  # fresh: the Python path keeps fields per record
        start = time.process_time()
        for record in records:
            formatter.format(record).encode("utf-8")
        best = min(best, (time.process_time() - start) / count * 1e6)
    return best


_FORMATTERS = ("LogstashFormatter", "ECSFormatter")


def measure_worker(count: int) -> dict[str, float]:
    """µs per event for each formatter."""
    from django_reqlog import formatters

    out = {}
    for name in _FORMATTERS:
        make: Callable[[], logging.Formatter] = getattr(formatters, name)
        out[name] = _cpu_per_event(count, make())
    return out
