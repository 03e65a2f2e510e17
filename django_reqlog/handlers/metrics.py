"""Shipper self-metrics.

Request threads (``emit()``) and the worker both count, so every update and
every read takes the metrics' lock: a few tens of nanoseconds uncontended,
and a snapshot is always consistent.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timezone

#: The keys of the ``reqlog_shipper`` record attribute, in contract order.
METRIC_KEYS = ("queued", "sent", "retried", "spooled", "dropped", "failed", "spool_bytes")

#: Why an event was dropped, as reported on stderr and in ``status()``.
DROP_REASONS = ("queue full", "spool cap", "max age", "memory cap", "close")

_COUNTERS = ("queued", "sent", "retried", "spooled", "failed")


class ShipperMetrics:
    """Cumulative counters since the process (or forked child) started.

    queued:      records accepted by ``emit()`` onto the in-memory queue.
    sent:        events the sink acknowledged (a 409 on create counts: already stored).
    retried:     per-event retry attempts (after 429/5xx or a failed connection).
    spooled:     events written to the disk spool.
    dropped:     events lost on purpose, by reason (see ``DROP_REASONS``).
    failed:      events the sink rejected permanently (e.g. a mapping error), or unformattable.
    spool_bytes: bytes the spool files take on disk now (a gauge; what the cap counts).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(_COUNTERS, 0)
        self._dropped = dict.fromkeys(DROP_REASONS, 0)
        # Drops not yet reported on stderr, and the wall-clock time of the first.
        self._unreported = dict.fromkeys(DROP_REASONS, 0)
        self._unreported_since: float | None = None
        self._gauges = {"spool_bytes": 0, "backlog": 0, "memory_bytes": 0}
        self.last_failure = ""

    def add(self, name: str, count: int = 1) -> None:
        """Add to one of ``queued``, ``sent``, ``retried``, ``spooled``, ``failed``."""
        with self._lock:
            self._counts[name] += count

    def drop(self, reason: str, count: int = 1) -> None:
        """Count ``count`` events dropped for ``reason`` (one of ``DROP_REASONS``)."""
        if count <= 0:
            return
        with self._lock:
            self._dropped[reason] += count
            self._unreported[reason] += count
            if self._unreported_since is None:
                self._unreported_since = time.time()

    def set_gauges(self, *, spool_bytes: int, backlog: int, memory_bytes: int) -> None:
        with self._lock:
            self._gauges.update(spool_bytes=spool_bytes, backlog=backlog, memory_bytes=memory_bytes)

    def _read(self, name: str) -> int:
        with self._lock:
            return self._counts[name] if name in self._counts else self._gauges[name]

    @property
    def queued(self) -> int:
        return self._read("queued")

    @property
    def sent(self) -> int:
        return self._read("sent")

    @property
    def retried(self) -> int:
        return self._read("retried")

    @property
    def spooled(self) -> int:
        return self._read("spooled")

    @property
    def failed(self) -> int:
        return self._read("failed")

    @property
    def spool_bytes(self) -> int:
        return self._read("spool_bytes")

    @property
    def backlog(self) -> int:
        return self._read("backlog")

    @property
    def memory_bytes(self) -> int:
        return self._read("memory_bytes")

    @property
    def dropped(self) -> int:
        with self._lock:
            return sum(self._dropped.values())

    def dropped_by_reason(self) -> dict[str, int]:
        with self._lock:
            return dict(self._dropped)

    def snapshot(self) -> dict[str, int]:
        """The seven contract counters as a plain dict."""
        with self._lock:
            return {
                **self._counts,
                "dropped": sum(self._dropped.values()),
                "spool_bytes": self._gauges["spool_bytes"],
            }

    def status(self) -> dict[str, object]:
        """Snapshot plus the extra gauges, for status files and the command."""
        data: dict[str, object] = dict(self.snapshot())
        with self._lock:
            data["backlog"] = self._gauges["backlog"]
            data["memory_bytes"] = self._gauges["memory_bytes"]
            data["dropped_by_reason"] = {k: v for k, v in self._dropped.items() if v}
        data["last_failure"] = self.last_failure
        return data

    def take_drop_report(self) -> str | None:
        """A one-line account of the drops since the last call, or None if there were none."""
        with self._lock:
            since = self._unreported_since
            if since is None:
                return None
            counts = {k: v for k, v in self._unreported.items() if v}
            self._unreported = dict.fromkeys(DROP_REASONS, 0)
            self._unreported_since = None
        when = datetime.fromtimestamp(since, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        reasons = ", ".join(f"{count} {reason}" for reason, count in counts.items())
        return f"{sum(counts.values())} events dropped since {when} ({reasons})"


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
