"""The shipper under faults, each in a process of its own: the sink is down and
events keep coming.

- memory stays bounded by the queue plus a constant, whatever the event size;
- the spool files stay within twice ``spool_max_bytes`` on disk at all times;
- a ``kill -9`` loses only the events of the last ``SPOOL_DELAY``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from django_reqlog.handlers.queue_worker import SPOOL_DELAY
from tests.helpers.shipping import (
    MiB,
    kill_when_logged,
    spool_file_bytes,
    spooled_messages,
    start_outage,
    start_steady,
)


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
    assert growth < 2 * queue_size * size + 8 * MiB, (
        f"RSS grew by {growth / MiB:.1f} MiB: {figures}"
    )


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


def test_kill_9_during_an_outage_loses_at_most_the_spool_delay(tmp_path: Path) -> None:
    """Three processes killed at some point of an outage: each loses at most
    what it logged in twice ``SPOOL_DELAY`` (the delay, and as much again
    for scheduling on a busy machine). Before, events waited up to
    ``flush_interval`` (1 s) or a whole batch before they were spooled."""
    rate = 200.0
    for run in range(3):
        spool_dir = tmp_path / f"spool-{run}"
        # Well into the outage: the first send failed after a flush interval.
        logged = kill_when_logged(start_steady(spool_dir, rate), 600 + 37 * run)
        spooled = spooled_messages(spool_dir)
        assert spooled == [f"event {i}" for i in range(len(spooled))]  # the oldest, in order
        lost = logged - len(spooled)
        assert 0 <= lost <= rate * 2 * SPOOL_DELAY, f"run {run}: {lost} of {logged} lost"
