"""Shipper self-metrics.

Every counter has a single writer so no lock is needed on the hot path:
``emit()`` runs under the handler's lock and only touches ``queued`` and
``dropped_at_emit``; everything else is written by the worker thread alone.
Readers take a snapshot, which may be a few events stale but never torn.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

#: The keys of the ``reqlog_shipper`` record attribute, in contract order.
METRIC_KEYS = ("queued", "sent", "retried", "spooled", "dropped", "failed", "spool_bytes")


@dataclass
class ShipperMetrics:
    """Cumulative counters since the process (or forked child) started.

    queued:      records accepted by ``emit()`` onto the in-memory queue.
    sent:        events the sink acknowledged (a 409 on create counts: already stored).
    retried:     per-event retry attempts (after 429/5xx or a failed connection).
    spooled:     events written to the disk spool.
    dropped:     events lost on purpose: queue full, spool/memory cap, maximum age.
    failed:      events the sink rejected permanently (e.g. a mapping error), or unformattable.
    spool_bytes: payload bytes currently waiting in the disk spool (a gauge).
    """

    queued: int = 0
    sent: int = 0
    retried: int = 0
    spooled: int = 0
    dropped_at_emit: int = 0
    dropped_in_worker: int = 0
    failed: int = 0
    spool_bytes: int = 0
    # Not in the contract record, but useful in ``reqlog_status``.
    backlog: int = 0
    memory_bytes: int = 0
    last_failure: str = ""

    @property
    def dropped(self) -> int:
        return self.dropped_at_emit + self.dropped_in_worker

    def snapshot(self) -> dict[str, int]:
        """The seven contract counters as a plain dict."""
        return {
            "queued": self.queued,
            "sent": self.sent,
            "retried": self.retried,
            "spooled": self.spooled,
            "dropped": self.dropped,
            "failed": self.failed,
            "spool_bytes": self.spool_bytes,
        }

    def status(self) -> dict[str, object]:
        """Snapshot plus the extra gauges, for status files and the command."""
        data: dict[str, object] = dict(self.snapshot())
        data["backlog"] = self.backlog
        data["memory_bytes"] = self.memory_bytes
        data["last_failure"] = self.last_failure
        return data


def write_status_file(path: str, handler_name: str, target: str, metrics: ShipperMetrics) -> None:
    """Atomically replace ``path`` with this process's metrics as JSON.

    ``manage.py reqlog_status`` runs in another process, so each worker leaves
    its figures next to its spool file for the command to read.
    """
    data = {
        "pid": os.getpid(),
        "handler": handler_name,
        "target": target,
        "updated": time.time(),
        "metrics": metrics.status(),
    }
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)
