"""Read the per-process status files and spools a handler directory holds.

Used by ``manage.py reqlog_status``, which runs in a process of its own: the
figures of the web workers come from the status files their shipper threads
rewrite every few seconds next to their spool files.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from typing import Any

from .spool_file import DAMAGED_SUFFIX, LOCK_SUFFIX, SPOOL_SUFFIX, STATUS_SUFFIX, _try_lock


def _owner_alive(lock_path: str) -> bool:
    try:
        fd = os.open(lock_path, os.O_RDONLY)
    except OSError:
        return False
    try:
        # If we can take the lock nobody holds it; closing drops it again.
        return not _try_lock(fd)
    finally:
        os.close(fd)


def _spool_rows(path: str) -> tuple[int, int]:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
    except sqlite3.Error:
        return (0, 0)
    try:
        count, size = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM spool"
        ).fetchone()
        return (int(count), int(size))
    except sqlite3.Error:
        return (0, 0)
    finally:
        conn.close()


def _size(path: str) -> int:
    total = 0
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            total += os.stat(path + suffix).st_size
    return total


def _pid(name: str) -> int | None:
    pid_text = name.split("-", 1)[0]
    return int(pid_text) if pid_text.isdigit() else None


def _damaged_entry(directory: str, name: str) -> dict[str, Any]:
    path = os.path.join(directory, name)
    return {"file": path, "pid": _pid(name), "damaged": True, "bytes": _size(path)}


def _spool_entry(directory: str, name: str) -> dict[str, Any]:
    stem = os.path.join(directory, name[: -len(LOCK_SUFFIX)])
    entry: dict[str, Any] = {
        "file": stem + SPOOL_SUFFIX,
        "pid": _pid(name),
        "alive": _owner_alive(stem + LOCK_SUFFIX),
        "bytes": _size(stem + SPOOL_SUFFIX),
    }
    entry["backlog"], entry["backlog_bytes"] = _spool_rows(stem + SPOOL_SUFFIX)
    with (
        contextlib.suppress(OSError, ValueError),
        open(stem + STATUS_SUFFIX, encoding="utf-8") as fh,
    ):
        data = json.load(fh)
        entry["updated"] = data.get("updated")
        entry["metrics"] = data.get("metrics")
    return entry


def directory_status(directory: str) -> list[dict[str, Any]]:
    """One entry per process with a spool in ``directory`` (owner pid,
    liveness, size on disk, backlog, metrics), and one per damaged spool
    moved aside (``damaged``: True, with its size)."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    entries = []
    for name in names:
        if name.endswith(DAMAGED_SUFFIX):
            entries.append(_damaged_entry(directory, name))
        elif name.endswith(LOCK_SUFFIX):
            entries.append(_spool_entry(directory, name))
    return entries
