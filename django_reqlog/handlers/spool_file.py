"""One spool file: a SQLite database of formatted events, oldest first.

Layout: one directory per handler target (stable across restarts), holding one
SQLite database per process, ``<pid>-<token>.spool``, next to its
``<pid>-<token>.lock``. The owner holds an exclusive ``flock`` on the lock file
for its whole life; the kernel releases it however the process ends (even
SIGKILL), so a process that can take the lock of someone else's spool knows the
owner is gone and adopts the file: it replays it before its own, then deletes
it. A file that cannot be read is moved aside as ``<pid>-<token>.damaged``.

What a file takes on disk is its database, WAL and shared-memory index; the
cap over all of them is ``SpoolStore``'s (``spool.py``).

Every read and write happens on the handler's worker thread.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from django_reqlog._stderr import warn

try:  # POSIX only; elsewhere adoption falls back to "is the pid alive".
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: A formatted event waiting for delivery: (event id, JSON payload without newline).
Item = tuple[str, bytes]
T = TypeVar("T")

SPOOL_SUFFIX = ".spool"
LOCK_SUFFIX = ".lock"
STATUS_SUFFIX = ".status.json"
DAMAGED_SUFFIX = ".damaged"
# The database and the two files SQLite keeps beside it in WAL mode.
_FILE_SUFFIXES = ("", "-wal", "-shm")

# Objects inherited over fork(): closing them in the child could checkpoint or
# unlink the parent's files, so the child keeps them referenced and never
# touches them again.
_inherited: list[object] = []

# 3 parameters a row: within the 999 of SQLite builds older than 3.32. Rows
# per statement are also bounded in bytes: SQLite keeps a statement's bound
# values until it is finalised, and Python 3.10 keeps at least five
# statements cached whatever ``cached_statements`` says.
_ROWS_PER_INSERT = 300
_BYTES_PER_INSERT = 256 * 1024
# SQLite's page cache for one spool connection (the default is 2 MiB).
_PAGE_CACHE_KIB = 256
# What a row costs beyond its payload (event id, row header, cell pointer),
# for estimates only; the cap itself is checked against the files.
ROW_OVERHEAD = 64
# A file's own fill ratio is trusted once it holds this much; before that,
# its few fixed pages would make it look emptier than it is.
_RATIO_SAMPLE_BYTES = 64 * 1024
_MAX_RATIO = 2.5
# SQLITE_CORRUPT and SQLITE_NOTADB: the file itself is bad, not the disk.
_DAMAGE_CODES = (11, 26)


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


def is_damage(exc: sqlite3.Error) -> bool:
    """True if ``exc`` says the database file is corrupt or not a database."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in _DAMAGE_CODES
    text = str(exc)
    return "malformed" in text or "not a database" in text


def _row_size(row: tuple[float, str, bytes]) -> int:
    return len(row[2])


def _insert_statement(rows: int) -> str:
    return "INSERT INTO spool (ts, event_id, payload) VALUES " + ",".join(["(?, ?, ?)"] * rows)


def chunks(
    items: list[T], size: Callable[[T], int], max_bytes: int, max_count: int
) -> Iterator[list[T]]:
    """Consecutive runs of ``items``, each of at most ``max_count`` items and
    ``max_bytes`` by ``size`` (a single larger item makes a run of its own)."""
    start = total = 0
    for end, item in enumerate(items):
        if end > start and (end - start >= max_count or total + size(item) > max_bytes):
            yield items[start:end]
            start, total = end, 0
        total += size(item)
    if start < len(items):
        yield items[start:]


class SpoolFile:
    """One SQLite database in WAL mode holding events oldest-first."""

    def __init__(self, path: str, lock_fd: int) -> None:
        self.path = path
        self.lock_fd = lock_fd
        self.stem = path[: -len(SPOOL_SUFFIX)]
        # No statement cache: a cached statement keeps the values last bound
        # to it, and each INSERT length stayed cached with its payloads.
        self.conn = sqlite3.connect(
            path, timeout=0, isolation_level=None, check_same_thread=False, cached_statements=0
        )
        try:
            self._setup()
        except BaseException:
            self.conn.close()
            raise
        # Rows delivered whose DELETE failed (disk full), with their sizes:
        # skipped on read so they are not sent twice, deleted again later.
        self.acked: dict[int, int] = {}
        # Rows up to ``busy_through`` are on the wire; rows up to
        # ``gone_through`` were dropped by the cap. A row that was both counts
        # as dropped only if the send does not deliver it (``lost``).
        self.busy_through = 0
        self.gone_through = 0

    def _setup(self) -> None:
        # auto_vacuum must be chosen before the first table exists; it lets
        # the file give freed pages back (``vacuum``) instead of keeping them.
        self.conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(f"PRAGMA cache_size=-{_PAGE_CACHE_KIB}")
        self.conn.execute("PRAGMA journal_size_limit=0")
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
        self.page_size = int(self.conn.execute("PRAGMA page_size").fetchone()[0])

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
        """Take over a dead process's spool, or return None if its owner lives.

        A spool that cannot be read is moved aside (``quarantine``) and None
        is returned; any other SQLite error leaves it for a later attempt.
        """
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
        except sqlite3.Error as exc:
            if is_damage(exc):
                quarantine(stem, exc)
            os.close(fd)
            return None

    # -- writing -------------------------------------------------------------

    def append(self, items: list[Item], now: float) -> None:
        """Insert items in one transaction; raises sqlite3.Error (disk full...)."""
        rows = [(now, eid, payload) for eid, payload in items]
        with self._transaction():
            # Many rows per statement: each statement step gives up the GIL,
            # and getting it back from busy request threads can take up to a
            # switch interval (5 ms), so one INSERT per row made spooling
            # thousands of events take seconds in a busy process.
            for chunk in chunks(rows, _row_size, _BYTES_PER_INSERT, _ROWS_PER_INSERT):
                self.conn.execute(_insert_statement(len(chunk)), [v for row in chunk for v in row])
        self.count += len(rows)
        self.bytes += sum(len(p) for _, _, p in rows)
        self.checkpoint()

    def checkpoint(self) -> None:
        """Copy the WAL into the database and empty it, so it never grows
        beyond one transaction (skipped while a reader holds a snapshot)."""
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def vacuum(self) -> None:
        """Give freed pages back to the file system."""
        with contextlib.suppress(sqlite3.Error):
            # The pragma frees one page per step, and execute() takes only
            # the first step of a statement without result columns;
            # executescript() steps each statement to its end.
            self.conn.executescript("PRAGMA incremental_vacuum")
        self.checkpoint()

    # -- reading -------------------------------------------------------------

    def head(self, limit: int, max_bytes: int) -> list[Row]:
        """The oldest rows: at most ``limit``, and about ``max_bytes`` of payload."""
        cursor = self.conn.execute(
            "SELECT seq, event_id, payload FROM spool ORDER BY seq LIMIT ?",
            (limit + len(self.acked),),
        )
        out: list[Row] = []
        size = 0
        for seq, event_id, payload in cursor:
            if seq in self.acked:
                continue
            out.append(Row(int(seq), str(event_id), bytes(payload)))
            size += len(payload)
            if len(out) >= limit or size >= max_bytes:
                break
        cursor.close()
        return out

    def disk_bytes(self) -> int:
        """What the spool takes on disk: the database, its WAL and its index."""
        total = 0
        for suffix in _FILE_SUFFIXES:
            with contextlib.suppress(OSError):
                total += os.stat(self.path + suffix).st_size
        return total

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise

    def page_count(self) -> int:
        return int(self.conn.execute("PRAGMA page_count").fetchone()[0])

    def free_pages(self) -> int:
        with contextlib.suppress(sqlite3.Error):
            return int(self.conn.execute("PRAGMA freelist_count").fetchone()[0])
        return 0

    def used_bytes(self) -> int:
        """What the files will take once the WAL is emptied, not counting free
        pages: the pages that hold rows, and the index beside the database."""
        pages = self.page_count() - self.free_pages()
        with contextlib.suppress(OSError):
            return pages * self.page_size + os.stat(self.path + "-shm").st_size
        return pages * self.page_size

    def fill_ratio(self) -> float:
        """Bytes on disk per payload byte in this file (pages are only partly filled)."""
        if self.bytes < _RATIO_SAMPLE_BYTES:
            return 1.0
        used = (self.page_count() - self.free_pages()) * self.page_size
        return min(_MAX_RATIO, max(1.0, used / (self.bytes + self.count * ROW_OVERHEAD)))

    # -- removing ------------------------------------------------------------

    def delete(self, rows: list[Row]) -> None:
        """Forget delivered rows; if the disk refuses, remember them as acked."""
        for row in rows:
            if row.seq not in self.acked and row.seq > self.gone_through:
                self.acked[row.seq] = len(row.payload)
                self.count -= 1
                self.bytes -= len(row.payload)
        self.flush_acked()

    def flush_acked(self) -> None:
        if not self.acked:
            return
        try:
            with self._transaction():
                for low, high in _runs(sorted(self.acked)):
                    self.conn.execute("DELETE FROM spool WHERE seq BETWEEN ? AND ?", (low, high))
        except sqlite3.Error as exc:
            warn(f"spool delete failed ({exc}); will retry", key=f"spool-delete:{self.path}")
            return
        self.acked.clear()
        # Delivered pages are reused by the next writes; give them back once
        # they are a quarter of the file, or the spool is empty.
        if self.count == 0 or self.free_pages() * 4 > self.page_count():
            self.vacuum()
        else:
            self.checkpoint()

    def drop_oldest(self, disk_bytes: float, *, vacuum: bool = True) -> tuple[int, int]:
        """Delete the oldest rows to free about ``disk_bytes`` on disk; return
        how many, and how many of them count as dropped now.

        Rows on the wire are deleted too, but count as dropped only if the
        send does not deliver them (``lost``). Without ``vacuum`` the freed
        pages stay in the file, for the next write.
        """
        wanted = disk_bytes / self.fill_ratio()
        freed = 0
        last = None
        # LENGTH() of a blob reads its size, not its pages.
        cursor = self.conn.execute("SELECT seq, LENGTH(payload) FROM spool ORDER BY seq")
        for seq, size in cursor:
            last = int(seq)
            if seq not in self.acked:
                freed += int(size) + ROW_OVERHEAD
            if freed >= wanted:
                break
        cursor.close()
        if last is None:
            return 0, 0
        removed, on_the_wire = self._delete_through(last, vacuum=vacuum)
        return removed, removed - on_the_wire

    def lost(self, unsent: list[Row]) -> int:
        """How many of a send's undelivered rows the cap dropped meanwhile."""
        return sum(1 for row in unsent if row.seq <= self.gone_through)

    def expire(self, cutoff: float) -> int:
        """Delete rows spooled before ``cutoff`` (wall-clock seconds); return how many.

        Not while a send is on the wire: the next housekeeping will do.
        """
        if self.busy_through:
            return 0
        last = None
        cursor = self.conn.execute("SELECT seq, ts FROM spool ORDER BY seq")
        for seq, ts in cursor:  # oldest first: only the expired ones and one more are read
            if ts >= cutoff:
                break
            last = int(seq)
        cursor.close()
        return 0 if last is None else self._delete_through(last)[0]

    def _delete_through(self, last: int, *, vacuum: bool = True) -> tuple[int, int]:
        """Delete every row up to ``last`` (a prefix: oldest first); return how
        many, and how many of those are on the wire."""
        first = self.gone_through
        count_sql = "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM spool "
        with self._transaction():
            count, size = self.conn.execute(
                count_sql + "WHERE seq > ? AND seq <= ?", (first, last)
            ).fetchone()
            (busy, _) = self.conn.execute(
                count_sql + "WHERE seq > ? AND seq <= ?", (first, min(last, self.busy_through))
            ).fetchone()
            self.conn.execute("DELETE FROM spool WHERE seq > ? AND seq <= ?", (first, last))
        # Acked rows were subtracted when they were acked, and are not on the wire.
        gone = [seq for seq in self.acked if first < seq <= last]
        busy -= sum(1 for seq in gone if seq <= self.busy_through)
        count -= len(gone)
        size -= sum(self.acked.pop(seq) for seq in gone)
        self.gone_through = max(self.gone_through, last)
        self.count -= int(count)
        self.bytes -= int(size)
        if vacuum:
            self.vacuum()
        return int(count), int(busy)

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


def _runs(seqs: list[int]) -> Iterator[tuple[int, int]]:
    """Sorted seqs as (first, last) runs of consecutive numbers."""
    start = prev = seqs[0]
    for seq in seqs[1:]:
        if seq != prev + 1:
            yield start, prev
            start = seq
        prev = seq
    yield start, prev


def quarantine(stem: str, exc: BaseException) -> None:
    """Move a spool that cannot be read aside, for a person to look at, once."""
    size = 0
    for suffix in _FILE_SUFFIXES:
        with contextlib.suppress(OSError):
            size += os.stat(stem + SPOOL_SUFFIX + suffix).st_size
            os.replace(stem + SPOOL_SUFFIX + suffix, stem + DAMAGED_SUFFIX + suffix)
    for suffix in (STATUS_SUFFIX, LOCK_SUFFIX):
        with contextlib.suppress(OSError):
            os.unlink(stem + suffix)
    warn(
        f"spool {stem}{SPOOL_SUFFIX} cannot be read ({exc}); moved aside to "
        f"{stem}{DAMAGED_SUFFIX} ({size} bytes); its events will not be replayed",
        key=f"damaged:{stem}",
    )


def _remove_files(stem: str) -> None:
    for suffix in (*(SPOOL_SUFFIX + s for s in _FILE_SUFFIXES), STATUS_SUFFIX, LOCK_SUFFIX):
        with contextlib.suppress(OSError):
            os.unlink(stem + suffix)


def _pid_alive(lock_path: str) -> bool:  # pragma: no cover - Windows fallback
    try:
        pid = int(os.path.basename(lock_path).split("-", 1)[0])
        os.kill(pid, 0)
    except (ValueError, OSError):
        return False
    return True
