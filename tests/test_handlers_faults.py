"""The shipper under faults, each in a process of its own: the sink is down and
events keep coming.

- memory stays bounded by the queue plus a constant, whatever the event size;
- the spool files stay within twice ``spool_max_bytes`` on disk at all times;
- a ``kill -9`` loses only the events of the last ``SPOOL_DELAY``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from django_reqlog.handlers.queue_worker import SPOOL_DELAY
from django_reqlog.handlers.status import directory_status

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024

# Events logged through a handler whose sink is down (a port nobody listens
# on), flushed after every k of them, k = 1, 2, ... 150, 1, 2, ...: the spool
# sees writes of every length. Prints RSS after a warm-up and its peak, as JSON.
OUTAGE_CHILD = textwrap.dedent(
    """
    import json, logging, os, socket, sys
    from django_reqlog.handlers import LogstashHandler

    def rss(field="VmRSS"):  # now, or its peak (VmHWM) since this program started
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) * 1024 for line in fh if line.startswith(field))

    spool_dir, size, count, queue_size, cap = sys.argv[1], *map(int, sys.argv[2:6])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    handler = LogstashHandler(
        "127.0.0.1", port, spool_dir=spool_dir, spool_max_bytes=cap, queue_size=queue_size,
        metrics_interval=None, retry_initial=0.05, retry_max=0.5, close_timeout=1.0,
    )
    body = "x" * size
    for i in range(5):  # what the first events import and start is not the outage's
        handler.handle(logging.LogRecord("outage", 20, "", 0, f"warm-up {i}", (), None))
    handler.flush(10.0)
    base = rss()
    logged, k = 0, 1
    while logged < count:
        for _ in range(k):
            handler.handle(logging.LogRecord("outage", 20, "", 0, f"{logged} {body}", (), None))
            logged += 1
        handler.flush(10.0)
        k = k % 150 + 1
    peak = rss("VmHWM")
    print(json.dumps({"base": base, "peak": peak, **handler.metrics.snapshot()}), flush=True)
    """
)


def child_env() -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}


def start_outage(
    spool_dir: Path, size: int, count: int, *, queue_size: int, cap: int
) -> subprocess.Popen[str]:
    args = [str(spool_dir), str(size), str(count), str(queue_size), str(cap)]
    return subprocess.Popen(
        [sys.executable, "-c", OUTAGE_CHILD, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        env=child_env(),
    )


def spool_file_bytes(directory: Path) -> int:
    """What the spool files take on disk now: databases, WALs and their indexes."""
    total = 0
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return 0
    for name in names:
        if ".spool" in name:
            # Replaced or removed between listdir() and stat(): not there.
            with contextlib.suppress(FileNotFoundError):
                total += os.stat(directory / name).st_size
    return total


@pytest.mark.parametrize("size", [16_000, 48_000])
def test_memory_stays_bounded_through_an_outage_with_large_events(
    tmp_path: Path, size: int
) -> None:
    """The documented bound: the queue's events, twice over (a record and its
    formatted bytes), plus 8 MiB. Before, SQLite kept each INSERT length's
    statement cached with its last payloads bound: hundreds of MiB here."""
    queue_size = 200
    child = start_outage(tmp_path / "spool", size, 9_000, queue_size=queue_size, cap=MiB)
    stdout, _ = child.communicate(timeout=300)
    assert child.returncode == 0
    figures = json.loads(stdout)
    assert figures["spooled"] > 1_000 and figures["dropped"] > 1_000  # the cap was reached
    growth = figures["peak"] - figures["base"]
    assert growth < 2 * queue_size * size + 8 * MiB, f"RSS grew by {growth / MiB:.1f} MiB: {figures}"


@pytest.mark.parametrize(
    "size",
    [
        2_100,  # one event a page: the worst fill of SQLite's 4 KiB pages
        30_000,  # each event spans several overflow pages
    ],
)
def test_spool_files_stay_within_twice_the_cap(tmp_path: Path, size: int) -> None:
    """Database, WAL and index together, sampled from outside while the
    process spools. Before, the WAL alone could reach 4 MiB."""
    spool_dir = tmp_path / "spool"
    cap = MiB
    child = start_outage(spool_dir, size, 6_000, queue_size=1_000, cap=cap)
    peak = 0
    while child.poll() is None:
        peak = max(peak, spool_file_bytes(spool_dir))
    stdout, _ = child.communicate()
    assert child.returncode == 0
    assert json.loads(stdout)["dropped"] > 0
    assert cap / 2 < peak <= 2 * cap, f"peak {peak} bytes on disk for a cap of {cap}"


# Logs events at a steady rate through a handler whose sink is down, printing
# each event's number once it is handed over, until it is killed.
STEADY_CHILD = textwrap.dedent(
    """
    import logging, socket, sys, time
    from django_reqlog.handlers import LogstashHandler

    spool_dir, rate = sys.argv[1], float(sys.argv[2])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Defaults otherwise: flush_interval 1 s, batch_size 200.
    handler = LogstashHandler("127.0.0.1", port, spool_dir=spool_dir, metrics_interval=None)
    start = time.monotonic()
    i = 0
    while True:
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        handler.handle(logging.LogRecord("steady", 20, "", 0, f"event {i}", (), None))
        print(i, flush=True)
        i += 1
    """
)


def spooled_rows(spool_dir: Path) -> list[str]:
    messages = []
    for entry in directory_status(str(spool_dir)):
        conn = sqlite3.connect(entry["file"])
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            rows = conn.execute("SELECT payload FROM spool ORDER BY seq").fetchall()
        finally:
            conn.close()
        messages += [json.loads(payload)["message"] for (payload,) in rows]
    return messages


def test_kill_9_during_an_outage_loses_at_most_the_spool_delay(tmp_path: Path) -> None:
    """Three processes killed at some point of an outage: each loses at most
    what it logged in twice ``SPOOL_DELAY`` (the delay, and as much again
    for scheduling on a busy machine). Before, events waited up to
    ``flush_interval`` (1 s) or a whole batch before they were spooled."""
    rate = 200.0
    for run in range(3):
        spool_dir = tmp_path / f"spool-{run}"
        child = subprocess.Popen(
            [sys.executable, "-c", STEADY_CHILD, str(spool_dir), str(rate)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
            env=child_env(),
        )
        assert child.stdout is not None
        # Well into the outage: the first send failed after a flush interval.
        last = 0
        while last < 600 + 37 * run:
            last = int(child.stdout.readline())
        child.send_signal(signal.SIGKILL)
        child.wait()
        logged = 1 + max([last, *(int(line) for line in child.stdout)])
        child.stdout.close()
        spooled = spooled_rows(spool_dir)
        assert spooled == [f"event {i}" for i in range(len(spooled))]  # the oldest, in order
        lost = logged - len(spooled)
        assert 0 <= lost <= rate * 2 * SPOOL_DELAY, f"run {run}: {lost} of {logged} lost"
