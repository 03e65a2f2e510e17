"""Bounded store-and-forward buffer: SQLite spool files plus a memory fallback.

Layout: one directory per handler target (stable across restarts), holding one
SQLite database per process, ``<pid>-<token>.spool``, next to its
``<pid>-<token>.lock``. The owner holds an exclusive ``flock`` on the lock file
for its whole life; the kernel releases it however the process ends (even
SIGKILL), so a process that can take the lock of someone else's spool knows the
owner is gone and adopts the file: it replays it before its own, then deletes
it.

Every read and write happens on the handler's worker thread.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import sqlite3
import time
from collections import deque
from dataclasses import dataclass

from django_reqlog._stderr import warn

from .metrics import ShipperMetrics

try:  # POSIX only; elsewhere adoption falls back to "is the pid alive".
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: A formatted event waiting for delivery: (event id, JSON payload without newline).
Item = tuple[str, bytes]

SPOOL_SUFFIX = ".spool"
LOCK_SUFFIX = ".lock"
STATUS_SUFFIX = ".status.json"

# Objects inherited over fork(): closing them in the child could checkpoint or
# unlink the parent's files, so the child keeps them referenced and never
# touches them again.
_inherited: list[object] = []


@dataclass
class Row:
    seq: int
    event_id: str
    payload: bytes


def _try_lock(fd: int) -> bool:
    if fcntl is None:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


# 3 parameters a row: within the 999 of SQLite builds older than 3.32.
_ROWS_PER_INSERT = 300


@functools.lru_cache(maxsize=8)
def _insert_statement(rows: int) -> str:
    return "INSERT INTO spool (ts, event_id, payload) VALUES " + ",".join(["(?, ?, ?)"] * rows)


class SpoolFile:
    """One SQLite database in WAL mode holding events oldest-first."""

    def __init__(self, path: str, lock_fd: int) -> None:
        self.path = path
        self.lock_fd = lock_fd
        self.stem = path[: -len(SPOOL_SUFFIX)]
        self.conn = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
        # auto_vacuum must be chosen before the first table exists; it lets an
        # emptied spool give its pages back instead of staying at peak size.
        self.conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA journal_size_limit=4194304")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS spool ("
            "seq INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, "
            "event_id TEXT NOT NULL, payload BLOB NOT NULL)"
        )
        count, size = self.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM spool"
        ).fetchone()
        self.count: int = int(count)
        self.bytes: int = int(size)
        # Rows delivered whose DELETE failed (disk full): skipped on read so
        # they are not sent twice, deleted again later.
        self.acked: set[int] = set()

    @classmethod
    def create(cls, directory: str) -> SpoolFile:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        stem = os.path.join(directory, f"{os.getpid()}-{secrets.token_hex(4)}")
        # Lock under a temporary name, then rename: a scanning sibling never
        # sees an unlocked lock file and mistakes us for a dead owner.
        tmp = f"{stem}.locktmp"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _try_lock(fd)
            os.rename(tmp, stem + LOCK_SUFFIX)
            return cls(stem + SPOOL_SUFFIX, fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @classmethod
    def adopt(cls, lock_path: str) -> SpoolFile | None:
        """Take over a dead process's spool, or return None if its owner lives."""
        try:
            fd = os.open(lock_path, os.O_RDWR)
        except OSError:
            return None
        if not _try_lock(fd) or (fcntl is None and _pid_alive(lock_path)):
            os.close(fd)
            return None
        stem = lock_path[: -len(LOCK_SUFFIX)]
        if not os.path.exists(stem + SPOOL_SUFFIX):
            _remove_files(stem)
            os.close(fd)
            return None
        try:
            return cls(stem + SPOOL_SUFFIX, fd)
        except sqlite3.Error:
            os.close(fd)
            return None

    def append(self, items: list[Item], now: float) -> None:
        """Insert items in one transaction; raises sqlite3.Error (disk full...)."""
        rows = [(now, eid, payload) for eid, payload in items]
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            # Many rows per statement: each statement step gives up the GIL,
            # and getting it back from busy request threads can take up to a
            # switch interval (5 ms), so one INSERT per row made spooling
            # thousands of events take seconds in a busy process.
            for start in range(0, len(rows), _ROWS_PER_INSERT):
                chunk = rows[start : start + _ROWS_PER_INSERT]
                self.conn.execute(_insert_statement(len(chunk)), [v for row in chunk for v in row])
            self.conn.execute("COMMIT")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise
        self.count += len(rows)
        self.bytes += sum(len(p) for _, _, p in rows)

    def head(self, limit: int) -> list[Row]:
        rows = self.conn.execute(
            "SELECT seq, event_id, payload FROM spool ORDER BY seq LIMIT ?",
            (limit + len(self.acked),),
        ).fetchall()
        out = [Row(int(s), str(e), bytes(p)) for s, e, p in rows if s not in self.acked]
        return out[:limit]

    def delete(self, rows: list[Row]) -> None:
        """Forget delivered rows; if the disk refuses, remember them as acked."""
        fresh = [r for r in rows if r.seq not in self.acked]
        self.acked.update(r.seq for r in fresh)
        self.count -= len(fresh)
        self.bytes -= sum(len(r.payload) for r in fresh)
        self.flush_acked()

    def flush_acked(self) -> None:
        if not self.acked:
            return
        try:
            self.conn.executemany("DELETE FROM spool WHERE seq = ?", [(s,) for s in self.acked])
        except sqlite3.Error as exc:
            warn(f"spool delete failed ({exc}); will retry", key=f"spool-delete:{self.path}")
            return
        self.acked.clear()
        if self.count == 0:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("PRAGMA incremental_vacuum")
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def drop_oldest(self, nbytes: int) -> int:
        """Delete the oldest rows until ``nbytes`` are freed; return rows dropped."""
        dropped = 0
        freed = 0
        while freed < nbytes and self.count > 0:
            rows = self.head(256)
            if not rows:
                break
            take: list[Row] = []
            for row in rows:
                take.append(row)
                freed += len(row.payload)
                if freed >= nbytes:
                    break
            self.delete(take)
            dropped += len(take)
        return dropped

    def expire(self, cutoff: float) -> int:
        self.flush_acked()
        if self.acked:
            return 0
        try:
            before = self.count
            cur = self.conn.execute("DELETE FROM spool WHERE ts < ?", (cutoff,))
            if cur.rowcount:
                self._recount()
            return max(0, before - self.count)
        except sqlite3.Error:
            return 0

    def _recount(self) -> None:
        count, size = self.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM spool"
        ).fetchone()
        self.count = int(count) - len(self.acked)
        self.bytes = int(size)

    def close(self, *, remove_if_empty: bool) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.flush_acked()
        empty = self.count <= 0
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()
        if remove_if_empty and empty:
            _remove_files(self.stem)
        with contextlib.suppress(OSError):
            os.close(self.lock_fd)

    def forget_after_fork(self) -> None:
        """In a forked child: drop the parent's lock copy, never touch the db."""
        _inherited.append(self.conn)
        with contextlib.suppress(OSError):
            os.close(self.lock_fd)


def _remove_files(stem: str) -> None:
    for suffix in (
        SPOOL_SUFFIX,
        f"{SPOOL_SUFFIX}-wal",
        f"{SPOOL_SUFFIX}-shm",
        STATUS_SUFFIX,
        LOCK_SUFFIX,
    ):
        with contextlib.suppress(OSError):
            os.unlink(stem + suffix)


def _pid_alive(lock_path: str) -> bool:  # pragma: no cover - Windows fallback
    try:
        pid = int(os.path.basename(lock_path).split("-", 1)[0])
        os.kill(pid, 0)
    except (ValueError, OSError):
        return False
    return True


class SpoolStore:
    """Own spool + adopted spools + a bounded memory fallback, replayed in order.

    Order of replay: adopted spools (older processes) first, then this
    process's spool, then the memory fallback. While the memory fallback holds
    anything, new events join it too, so that order survives a disk recovering.
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
        self._writable_at = 0.0  # monotonic time before which the disk is not retried
        self._next_adopt = 0.0

    # -- lifecycle -----------------------------------------------------------

    def open(self) -> None:
        self._open_own()
        self.adopt_orphans()

    def _open_own(self) -> None:
        if self.directory is None or self.own is not None:
            return
        try:
            self.own = SpoolFile.create(self.directory)
        except (OSError, sqlite3.Error) as exc:
            self._disk_failed(f"cannot create spool in {self.directory}: {exc}")

    def adopt_orphans(self) -> None:
        if self.directory is None:
            return
        self._next_adopt = time.monotonic() + 30.0
        try:
            names = sorted(os.listdir(self.directory))
        except OSError:
            return
        mine = {s.stem for s in self.adopted}
        if self.own is not None:
            mine.add(self.own.stem)
        candidates = []
        for name in names:
            if not name.endswith(LOCK_SUFFIX):
                continue
            path = os.path.join(self.directory, name)
            if path[: -len(LOCK_SUFFIX)] in mine:
                continue
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
        self._update_gauges()

    def close(self) -> None:
        """Close every file; empty ones are removed, non-empty ones stay for replay."""
        for spool in [*self.adopted, *([self.own] if self.own else [])]:
            spool.close(remove_if_empty=True)
        self.adopted = []
        self.own = None
        if self.memory:
            self.metrics.dropped_in_worker += len(self.memory)
            warn(f"{len(self.memory)} events lost at close: spool unavailable", key="memory-lost")
            self.memory.clear()
            self.memory_bytes = 0
        self._update_gauges()

    def forget_after_fork(self) -> None:
        for spool in [*self.adopted, *([self.own] if self.own else [])]:
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
        now = time.monotonic()
        if self.memory and now >= self._writable_at:
            self._memory_to_disk()
        if not self.memory and self._disk_append(items):
            self.metrics.spooled += len(items)
            self._enforce_cap()
            self._update_gauges()
            return
        self._memory_append(items)
        self._update_gauges()

    def _disk_append(self, items: list[Item]) -> bool:
        if self.directory is None or time.monotonic() < self._writable_at:
            return False
        self._open_own()
        if self.own is None:
            return False
        try:
            self.own.append(items, time.time())
        except sqlite3.Error as exc:
            self._disk_failed(f"spool write failed ({exc}); buffering in memory")
            return False
        return True

    def _disk_failed(self, message: str) -> None:
        self._writable_at = time.monotonic() + self.retry_interval
        self.metrics.last_failure = message
        warn(message, key=f"spool-write:{self.directory}")

    def _memory_append(self, items: list[Item]) -> None:
        for eid, payload in items:
            self._memory_seq += 1
            self.memory.append((self._memory_seq, eid, payload))
            self.memory_bytes += len(payload)
        while self.memory_bytes > self.memory_max_bytes and self.memory:
            _, _, payload = self.memory.popleft()
            self.memory_bytes -= len(payload)
            self.metrics.dropped_in_worker += 1

    def _memory_to_disk(self) -> None:
        items = [(eid, payload) for _, eid, payload in self.memory]
        if self._disk_append(items):
            self.metrics.spooled += len(items)
            self.memory.clear()
            self.memory_bytes = 0
            self._enforce_cap()

    def _enforce_cap(self) -> None:
        excess = self.disk_bytes - self.max_bytes
        if excess <= 0:
            return
        for spool in [*self.adopted, *([self.own] if self.own else [])]:
            try:
                dropped = spool.drop_oldest(excess)
            except sqlite3.Error:
                dropped = 0
            self.metrics.dropped_in_worker += dropped
            excess = self.disk_bytes - self.max_bytes
            if excess <= 0:
                break

    # -- reading -------------------------------------------------------------

    @property
    def disk_bytes(self) -> int:
        return sum(s.bytes for s in self.adopted) + (self.own.bytes if self.own else 0)

    @property
    def backlog(self) -> int:
        return (
            sum(s.count for s in self.adopted)
            + (self.own.count if self.own else 0)
            + len(self.memory)
        )

    def head(self, limit: int) -> tuple[object, list[Row]]:
        """The oldest waiting rows of the first non-empty source."""
        for spool in [*self.adopted, *([self.own] if self.own else [])]:
            if spool.count > 0:
                try:
                    rows = spool.head(limit)
                except sqlite3.Error as exc:
                    warn(f"spool read failed: {exc}", key=f"spool-read:{spool.path}")
                    continue
                if rows:
                    return spool, rows
        rows = [Row(s, e, p) for s, e, p in list(self.memory)[:limit]]
        return self.memory, rows

    def ack(self, source: object, rows: list[Row]) -> None:
        """Remove delivered (or permanently failed) rows from their source."""
        if isinstance(source, SpoolFile):
            source.delete(rows)
            if source.count <= 0 and source in self.adopted:
                source.close(remove_if_empty=True)
                self.adopted.remove(source)
        elif rows:
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

    def maintain(self) -> None:
        """Periodic housekeeping: retry the disk, adopt orphans, expire old rows."""
        now = time.monotonic()
        if self.memory and now >= self._writable_at:
            self._memory_to_disk()
        for spool in [*self.adopted, *([self.own] if self.own else [])]:
            spool.flush_acked()
        if now >= self._next_adopt:
            self.adopt_orphans()
        if self.max_age is not None:
            cutoff = time.time() - self.max_age
            for spool in [*self.adopted, *([self.own] if self.own else [])]:
                self.metrics.dropped_in_worker += spool.expire(cutoff)
        self._update_gauges()

    def _update_gauges(self) -> None:
        self.metrics.spool_bytes = self.disk_bytes
        self.metrics.memory_bytes = self.memory_bytes
        self.metrics.backlog = self.backlog

    @property
    def status_path(self) -> str | None:
        return self.own.stem + STATUS_SUFFIX if self.own else None
