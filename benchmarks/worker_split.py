"""How a shipper's worker spends one request event, and how much of it is
masking the request body.

    python benchmarks/measure.py worker-split 3000     # JSON; make bench prints the table

Real request events (the benchmark's 1 KB JSON POST, made by the middleware
and kept as a shipper queues them) are turned into JSON lines the way the
worker does it: the record is made from the queued copy of its attributes
(``logging.makeLogRecord``), formatted and encoded. This is timed as it is,
and again with the body's masking replaced by a plain copy. The second
figure is a what-if, never a configuration: it is what the rest of
formatting costs, and so the most a faster masking step could save. CPU
time of this thread only; the best of nine runs of each, interleaved.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def _body_copied_unmasked() -> Iterator[None]:
    from django_reqlog import event

    original = event.mask_json_text
    event.mask_json_text = lambda text, *args, **kwargs: text
    try:
        yield
    finally:
        event.mask_json_text = original


def _cpu_per_event(events: list[dict[str, Any]], formatter: logging.Formatter) -> float:
    best = float("inf")
    for _ in range(3):
        # Fresh copies, untimed: formatting keeps the built fields on the facts.
        fresh = copy.deepcopy(events)
        start = time.process_time()
        for queued in fresh:
            record = logging.makeLogRecord(queued)
            formatter.format(record).encode("utf-8")
        best = min(best, (time.process_time() - start) / len(events) * 1e6)
    return best


_FORMATTERS = ("LogstashFormatter", "ECSFormatter")


def measure_split(events: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """µs per event for each formatter: ``full`` and ``body_unmasked`` (the what-if)."""
    from django_reqlog import formatters

    out = {}
    for name in _FORMATTERS:
        make: Callable[[], logging.Formatter] = getattr(formatters, name)
        full = unmasked = float("inf")
        for _ in range(3):  # interleaved, so drift hits both alike
            full = min(full, _cpu_per_event(events, make()))
            with _body_copied_unmasked():
                unmasked = min(unmasked, _cpu_per_event(events, make()))
        out[name] = {"full": full, "body_unmasked": unmasked}
    return out
