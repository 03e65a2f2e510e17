"""Worker CPU per request event: what a shipper's worker does with a queued
request record, formatting it and encoding the line, on one thread.

    python benchmarks/measure.py worker 3000     # JSON; make bench prints the table

Real request records (the benchmark's 1 KB JSON POST, made by the middleware
and queued as a shipper's emit() queues them) are made records again and
formatted by each formatter, as the worker does. run.py runs this twice: with
the compiled core, and with ``REQLOG_NATIVE=0`` (what a platform without a
wheel gets). CPU time of this thread only; fresh records for each of three
runs, the best run kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


def _cpu_per_event(count: int, formatter: logging.Formatter) -> float:
    from benchmarks.measure import _records
    from django_reqlog.handlers.base import _queued

    best = float("inf")
    for _ in range(3):
        # Fresh, untimed: the Python path keeps fields per record. Queued as
        # ShipperHandler.emit queues them; the worker makes records again.
        queued = [_queued(record) for record in _records(count)]
        start = time.process_time()
        for attributes in queued:
            formatter.format(logging.makeLogRecord(attributes)).encode("utf-8")
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
