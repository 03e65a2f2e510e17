"""Bounded store-and-forward buffer: this process's spool file, the spool
files it adopted from dead processes, and a memory fallback, under one cap.

See ``spool_file.py`` for one file: its layout, locking and adoption.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections import deque
from collections.abc import Callable

from django_reqlog._stderr import warn

from .metrics import ShipperMetrics
from .spool_file import (
    LOCK_SUFFIX,
    ROW_OVERHEAD,
    STATUS_SUFFIX,
    Item,
    Row,
    SpoolFile,
    chunks,
    is_damage,
    quarantine,
)

__all__ = ["Item", "Row", "SpoolFile", "SpoolStore"]


def _payload_size(item: Item) -> int:
    return len(item[1])


class SpoolStore:
    """Own spool + adopted spools + a bounded memory fallback, replayed in order.

    Order of replay: adopted spools (older processes) first, then this
    process's spool, then the memory fallback. While the memory fallback holds
    anything, new events join it too, so that order survives a disk recovering.

    This process's spool file is created on the first spill and removed once
    replayed to the end. The cap, ``max_bytes``, counts the files on disk
    (database, WAL, index) of this process's spool and of every spool it
    adopted. Each write is a transaction of at most an eighth of the cap,
    followed by a checkpoint that empties the WAL. Before it, the oldest
    events are dropped to make room, and the write reuses their pages; after
    it, if the files still exceed the cap, more are dropped and their pages
    given back. So the files exceed the cap only during a write, and by less
    than the cap.
    """

    def __init__(
        self,
        directory: str | None,
        metrics: ShipperMetrics,
        *,
        max_bytes: int,
        max_age: float | None,
        memory_bytes: int,
        retry_interval: float = 10.0,
    ) -> None:
        self.directory = directory
        self.metrics = metrics
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.memory_max_bytes = memory_bytes
        self.retry_interval = retry_interval
        self.own: SpoolFile | None = None
        self.adopted: list[SpoolFile] = []
        self.memory: deque[tuple[int, str, bytes]] = deque()
        self.memory_bytes = 0
        self._memory_seq = 0
        # As SpoolFile's busy_through and gone_through, for the memory fallback.
        self._memory_busy_through = 0
        self._memory_gone_through = 0
        self._writable_at = 0.0  # monotonic time before which the disk is not retried
        self._next_adopt = 0.0

    def sources(self) -> list[SpoolFile]:
        """The spool files, in replay order."""
        return [*self.adopted, *([self.own] if self.own else [])]

    # -- lifecycle -----------------------------------------------------------

    def adopt_orphans(self) -> None:
        if self.directory is None:
            return
        self._next_adopt = time.monotonic() + 30.0
        try:
            names = sorted(os.listdir(self.directory))
        except OSError:
            return
        mine = {s.stem for s in self.sources()}
        candidates = []
        for name in names:
            path = os.path.join(self.directory, name)
            if name.endswith(LOCK_SUFFIX) and path[: -len(LOCK_SUFFIX)] not in mine:
                with contextlib.suppress(OSError):
                    candidates.append((os.stat(path).st_mtime, path))
        for _, path in sorted(candidates):
            spool = SpoolFile.adopt(path)
            if spool is None:
                continue
            if spool.count == 0:
                spool.close(remove_if_empty=True)
                continue
            self.adopted.append(spool)
        self._enforce_cap()
        self._update_gauges()

    def close(self) -> None:
        """Close every file; empty ones are removed, non-empty ones stay for replay."""
        for spool in self.sources():
            spool.close(remove_if_empty=True)
        self.adopted = []
        self.own = None
        if self.memory:
            self.metrics.drop("close", len(self.memory))
            self.memory.clear()
            self.memory_bytes = 0
        self._update_gauges()

    def forget_after_fork(self) -> None:
        for spool in self.sources():
            spool.forget_after_fork()
        self.adopted = []
        self.own = None
        self.memory.clear()
        self.memory_bytes = 0

    # -- writing -------------------------------------------------------------

    def store(self, items: list[Item]) -> None:
        """Keep items for later delivery: on disk if possible, else in memory."""
        if not items:
            return
        if self.memory and time.monotonic() >= self._writable_at:
            self._memory_to_disk()
        if not self.memory:
            items = self._disk_append(items)
        if items:
            self._memory_append(items)
        self._update_gauges()

    def _disk_append(self, items: list[Item]) -> list[Item]:
        """Spool items; return those the disk refused, in order."""
        if self.directory is None or time.monotonic() < self._writable_at:
            return items
        if self.own is None:
            try:
                self.own = SpoolFile.create(self.directory)
            except (OSError, sqlite3.Error) as exc:
                self._disk_failed(f"cannot create spool in {self.directory}: {exc}")
                return items
        items = self._admit(items)
        done = 0
        try:
            for part in chunks(items, _payload_size, self.max_bytes // 8, len(items)):
                self._make_room(part)
                self.own.append(part, time.time())
                done += len(part)
                self.metrics.add("spooled", len(part))
                self._enforce_cap()
        except sqlite3.Error as exc:
            self._disk_failed(f"spool write failed ({exc}); buffering in memory")
        return items[done:]

    def _admit(self, items: list[Item]) -> list[Item]:
        """Drop what the cap would drop at once: an event over a quarter of
        the cap, and the oldest of a batch larger than half of it."""
        keep: list[Item] = []
        room = self.max_bytes // 2
        for item in reversed(items):
            size = len(item[1])
            if size <= self.max_bytes // 4 and size <= room:
                keep.append(item)
                room -= size
        self.metrics.drop("spool cap", len(items) - len(keep))
        keep.reverse()
        return keep

    def _disk_failed(self, message: str) -> None:
        self._writable_at = time.monotonic() + self.retry_interval
        self.metrics.last_failure = message
        warn(message, key=f"spool-write:{self.directory}")

    def _memory_append(self, items: list[Item]) -> None:
        for eid, payload in items:
            self._memory_seq += 1
            self.memory.append((self._memory_seq, eid, payload))
            self.memory_bytes += len(payload)
        dropped = 0
        while self.memory_bytes > self.memory_max_bytes and self.memory:
            seq, _, payload = self.memory.popleft()
            self.memory_bytes -= len(payload)
            self._memory_gone_through = seq
            # On the wire: counted as dropped only if the send fails (ack()).
            dropped += seq > self._memory_busy_through
        self.metrics.drop("memory cap", dropped)

    def _memory_to_disk(self) -> None:
        items = [(eid, payload) for _, eid, payload in self.memory]
        self.memory.clear()
        self.memory_bytes = 0
        left = self._disk_append(items)
        if left:
            self._memory_append(left)

    def _make_room(self, part: list[Item]) -> None:
        """Before a write: drop the oldest events until the files, with
        ``part`` written, should fit the cap. Pages freed in this process's
        own file stay in it for the write to reuse, so the file does not
        grow; other files give theirs back at once. (The WAL is not counted
        here: the write empties it.)"""
        assert self.own is not None
        needed = sum(len(p) + ROW_OVERHEAD for _, p in part) * self.own.fill_ratio()
        self._drop_oldest(
            lambda: sum(s.used_bytes() for s in self.sources()) + needed - self.max_bytes,
            keep_pages=self.own,
        )

    def _enforce_cap(self) -> None:
        """After a write: if the estimate fell short, drop the oldest events
        and give their pages back until the files fit the cap."""
        if self.disk_bytes <= self.max_bytes:
            return
        for spool in self.sources():
            if spool.free_pages():
                spool.vacuum()
        self._drop_oldest(lambda: self.disk_bytes - self.max_bytes)

    def _drop_oldest(
        self, excess: Callable[[], float], keep_pages: SpoolFile | None = None
    ) -> None:
        """Drop events, oldest first, while ``excess()`` is above zero.
        ``keep_pages`` keeps the pages it frees, for the next write."""
        for spool in self.sources():
            # Each round drops about the excess; page slack can make that short.
            for _ in range(16):
                over = excess()
                if over <= 0:
                    return
                try:
                    removed, dropped = spool.drop_oldest(over, vacuum=spool is not keep_pages)
                except sqlite3.Error as exc:
                    self._read_failed(spool, exc)
                    break
                self.metrics.drop("spool cap", dropped)
                if not removed:
                    break
            self._retire(spool)

    # -- reading -------------------------------------------------------------

    @property
    def disk_bytes(self) -> int:
        return sum(s.disk_bytes() for s in self.sources())

    @property
    def backlog(self) -> int:
        return sum(s.count for s in self.sources()) + len(self.memory)

    def head(self, limit: int, max_bytes: int) -> tuple[object, list[Row]]:
        """The oldest waiting rows of the first non-empty source, to be sent.

        Until ``ack()`` they are on the wire. The cap may still drop them
        (they are the oldest), but they count as dropped only if the send
        does not deliver them; the age waits for the send.
        """
        for spool in self.sources():
            if spool.count > 0:
                try:
                    rows = spool.head(limit, max_bytes)
                except sqlite3.Error as exc:
                    self._read_failed(spool, exc)
                    continue
                if rows:
                    spool.busy_through = rows[-1].seq
                    return spool, rows
        rows = []
        size = 0
        for seq, eid, payload in self.memory:
            if len(rows) >= limit or (rows and size + len(payload) > max_bytes):
                break
            rows.append(Row(seq, eid, payload))
            size += len(payload)
        if rows:
            self._memory_busy_through = rows[-1].seq
        return self.memory, rows

    def _read_failed(self, spool: SpoolFile, exc: sqlite3.Error) -> None:
        if not is_damage(exc):
            warn(f"spool read failed: {exc}", key=f"spool-read:{spool.path}")
            return
        with contextlib.suppress(sqlite3.Error):
            spool.conn.close()
        quarantine(spool.stem, exc)
        with contextlib.suppress(OSError):
            os.close(spool.lock_fd)
        if spool is self.own:
            self.own = None
        else:
            self.adopted.remove(spool)
        self._update_gauges()

    def ack(self, source: object, rows: list[Row], unsent: list[Row]) -> None:
        """Remove delivered (or permanently failed) ``rows`` from their
        source; ``unsent``, the rest of what ``head()`` handed out, is back in
        line, or counted as dropped if the cap dropped it meanwhile."""
        if isinstance(source, SpoolFile):
            source.busy_through = 0
            if source in self.sources():  # not quarantined meanwhile
                self.metrics.drop("spool cap", source.lost(unsent))
                source.delete(rows)
                self._retire(source)
            if source is self.own and source.count <= 0:
                # Replayed to the end: the next spill makes a new file.
                source.close(remove_if_empty=True)
                self.own = None
        else:
            self._memory_busy_through = 0
            self.metrics.drop("memory cap", sum(r.seq <= self._memory_gone_through for r in unsent))
        if source is self.memory and rows:
            done = {r.seq for r in rows}
            last = max(done)
            keep = []
            while self.memory and self.memory[0][0] <= last:
                entry = self.memory.popleft()
                if entry[0] in done:
                    self.memory_bytes -= len(entry[2])
                else:
                    keep.append(entry)
            self.memory.extendleft(reversed(keep))
        self._update_gauges()

    def _retire(self, spool: SpoolFile) -> None:
        """An adopted spool replayed (or dropped) to the end is removed."""
        if spool.count <= 0 and spool in self.adopted:
            spool.close(remove_if_empty=True)
            self.adopted.remove(spool)

    def maintain(self) -> None:
        """Periodic housekeeping: retry the disk, adopt orphans, expire old rows."""
        now = time.monotonic()
        if self.memory and now >= self._writable_at:
            self._memory_to_disk()
        for spool in self.sources():
            spool.flush_acked()
        if now >= self._next_adopt:
            self.adopt_orphans()
        if self.max_age is not None:
            cutoff = time.time() - self.max_age
            for spool in self.sources():
                try:
                    self.metrics.drop("max age", spool.expire(cutoff))
                except sqlite3.Error as exc:
                    self._read_failed(spool, exc)
                self._retire(spool)
        self._update_gauges()

    def _update_gauges(self) -> None:
        self.metrics.set_gauges(
            spool_bytes=self.disk_bytes, backlog=self.backlog, memory_bytes=self.memory_bytes
        )

    @property
    def status_path(self) -> str | None:
        return self.own.stem + STATUS_SUFFIX if self.own else None
