"""The disk spool: outages, caps, a killed process, a full or read-only disk, fork."""

from __future__ import annotations

import functools
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from django_reqlog import _stderr
from django_reqlog.handlers import LogstashHandler
from django_reqlog.handlers.metrics import ShipperMetrics
from django_reqlog.handlers.spool import SpoolFile, SpoolStore
from django_reqlog.handlers.status import directory_status
from tests.helpers.handlers import Shippers, record
from tests.helpers.shipping import TCPReceiver, reported_drops
from tests.helpers.waiting import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def make_handler(shippers: Shippers) -> Callable[..., LogstashHandler]:
    """``make_handler(port, **options)``: a TCP shipper to 127.0.0.1:``port``."""
    return functools.partial(shippers.make, LogstashHandler, "127.0.0.1", spool_retry_interval=0.2)


@pytest.fixture
def stderr_notes(capfd: pytest.CaptureFixture[str]) -> Callable[[], str]:
    """What the package wrote on stderr since the test started."""
    _stderr.reset()
    capfd.readouterr()
    return lambda: capfd.readouterr().err


def test_spool_cap_drops_oldest_and_counts_them(
    make_handler: Any, stderr_notes: Callable[[], str]
) -> None:
    port = free_port()
    # The cap counts the files on disk, and an empty spool already takes 48 KiB.
    cap = 120_000
    handler = make_handler(port, spool_max_bytes=cap)
    filler = "f" * 400
    for i in range(500):
        handler.handle(record(f"{i} {filler}"))
    assert wait_for(lambda: handler.metrics.spooled + handler.metrics.dropped >= 500)
    assert wait_for(lambda: handler.metrics.dropped > 0)
    assert handler.metrics.spool_bytes <= cap
    receiver = TCPReceiver(port).start()
    assert wait_for(lambda: handler.metrics.backlog == 0 and handler.metrics.sent > 0)
    assert handler.wait_idle(30)
    assert wait_for(lambda: len(receiver.lines) >= handler.metrics.sent)  # sent != read yet
    numbers = [int(e["message"].split()[0]) for e in receiver.events()]
    # The newest events survive, in order, and every lost one is counted.
    assert numbers == sorted(numbers)
    assert numbers[-1] == 499
    assert len(numbers) + handler.metrics.dropped == 500
    handler.close()
    # ...and reported on stderr, with why.
    assert reported_drops(stderr_notes()) == {"spool cap": handler.metrics.dropped}
    receiver.stop()


@pytest.mark.parametrize("delivered", [True, False])
def test_events_on_the_wire_count_as_dropped_only_if_not_delivered(
    tmp_path: Path, delivered: bool
) -> None:
    """Rows read for a replay are the oldest: a write past the cap drops them
    meanwhile. Delivered after all, they are sent, not dropped; not
    delivered, they are dropped. Never both, never neither."""
    metrics = ShipperMetrics()
    store = SpoolStore(
        str(tmp_path / "spool"), metrics, max_bytes=200_000, max_age=None, memory_bytes=0
    )
    payload = b"p" * 2_000
    store.store([(f"old-{i}", payload) for i in range(40)])
    source, rows = store.head(10, 1 << 20)  # the ten oldest, now on the wire
    assert [r.event_id for r in rows] == [f"old-{i}" for i in range(10)]
    store.store([(f"new-{i}", payload) for i in range(150)])  # far past the cap
    assert store.disk_bytes <= 200_000
    store.ack(source, rows if delivered else [], [] if delivered else rows)
    left, rest = store.head(1_000, 1 << 20)
    remaining = [r.event_id for r in rest]
    assert remaining[-1] == "new-149"  # the newest survive
    assert not {r.event_id for r in rows} & set(remaining)  # the cap took the oldest
    sent = len(rows) if delivered else 0
    assert sent + len(remaining) + metrics.dropped == 190
    store.ack(left, [], rest)
    store.close()


def test_spool_max_age_expires_old_events(
    make_handler: Any, stderr_notes: Callable[[], str]
) -> None:
    handler = make_handler(free_port(), spool_max_age=0.01)
    for i in range(20):
        handler.handle(record(f"old {i}"))
    # Expiry runs with the worker's housekeeping (every few seconds).
    assert wait_for(lambda: handler.metrics.dropped == 20, timeout=30)
    assert handler.metrics.backlog == 0
    handler.close()
    assert reported_drops(stderr_notes()) == {"max age": 20}


def test_events_still_in_memory_at_close_are_reported_as_dropped(
    make_handler: Any, stderr_notes: Callable[[], str]
) -> None:
    handler = make_handler(free_port(), spool=False, close_timeout=0.2)  # memory only
    for i in range(20):
        handler.handle(record(f"kept in memory {i}"))
    assert wait_for(lambda: handler.metrics.memory_bytes > 0 and handler.metrics.backlog == 20)
    handler.close()
    assert handler.metrics.dropped == 20
    assert reported_drops(stderr_notes()) == {"close": 20}


def test_a_handler_starts_nothing_until_its_first_event(tmp_path: Path) -> None:
    """dictConfig builds handlers in every process (manage.py commands too):
    no thread and no file until an event arrives, and no spool file while the
    sink takes everything."""
    spool_dir = tmp_path / "spool"
    receiver = TCPReceiver().start()
    before = set(threading.enumerate())
    handler = LogstashHandler(
        "127.0.0.1", receiver.port, spool_dir=str(spool_dir), metrics_interval=None
    )
    try:
        assert set(threading.enumerate()) == before
        assert not spool_dir.exists()
        handler.flush()  # what logging.shutdown() does at exit: still nothing
        assert set(threading.enumerate()) == before
        handler.handle(record("first"))
        assert wait_for(lambda: len(receiver.lines) == 1)
        started = {t.name for t in set(threading.enumerate()) - before}
        mine = {n for n in started if n.startswith("reqlog-")}
        assert mine == {f"reqlog-shipper-{handler.spool_key}", f"reqlog-sender-{handler.spool_key}"}
        assert handler.wait_idle(30)
        assert not spool_dir.exists() or not any(spool_dir.iterdir())
    finally:
        handler.close()
        receiver.stop()


CHILD = """
import logging, sys, time
import django
django.setup()
from django_reqlog.handlers import LogstashHandler
port, spool_dir, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
handler = LogstashHandler(
    "127.0.0.1", port, spool_dir=spool_dir, flush_interval=0.05, retry_initial=0.05,
    retry_max=0.2, metrics_interval=None,
)
for i in range(count):
    handler.handle(logging.LogRecord("child", 20, "", 0, f"event {i}", (), None))
if count:
    while handler.metrics.spooled < count:
        time.sleep(0.01)
    print("spooled", flush=True)
    time.sleep(600)
else:
    assert handler.wait_idle(60), handler.metrics
    handler.close()
    print(handler.metrics.snapshot()["sent"], flush=True)
"""


def run_child(port: int, spool_dir: str, count: int) -> subprocess.Popen[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(port), spool_dir, str(count)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


def test_killed_process_spool_is_replayed_by_the_next_one(tmp_path: Path) -> None:
    port = free_port()
    spool_dir = str(tmp_path / "spool")
    first = run_child(port, spool_dir, 400)
    assert first.stdout is not None
    assert first.stdout.readline().strip() == "spooled"
    first.send_signal(signal.SIGKILL)
    first.wait()

    (entry,) = directory_status(spool_dir)
    assert entry["pid"] == first.pid
    assert entry["alive"] is False
    assert entry["backlog"] == 400
    out = io.StringIO()
    call_command("reqlog_status", "--json", "--spool-dir", spool_dir, stdout=out)
    (listed,) = [e for e in json.loads(out.getvalue()) if e["spool_dir"] == spool_dir]
    assert listed["processes"][0]["backlog"] == 400

    receiver = TCPReceiver(port).start()
    second = run_child(port, spool_dir, 0)
    stdout, _ = second.communicate(timeout=120)
    assert second.returncode == 0
    assert wait_for(lambda: len(receiver.lines) >= 400)
    assert [e["message"] for e in receiver.events()] == [f"event {i}" for i in range(400)]
    assert int(stdout.strip()) == 400
    assert directory_status(spool_dir) == []  # replayed spool files are removed
    receiver.stop()


def plant_dead_spool(spool_dir: Path, kind: str) -> tuple[Path, int]:
    """A spool file left by a dead process that cannot be read: its stem and size."""
    spool_dir.mkdir(parents=True, exist_ok=True)
    if kind == "garbage":
        stem = spool_dir / "4242-0badf00d"
        stem.with_suffix(".spool").write_bytes(b"not a database at all " * 500)
    else:  # a real spool, cut short (a disk that lost its tail)
        orphan = SpoolFile.create(str(spool_dir))
        orphan.append([(f"id-{i}", b"x" * 3000) for i in range(40)], 0.0)
        orphan.conn.close()
        os.close(orphan.lock_fd)
        stem = Path(orphan.stem)
        with open(orphan.path, "r+b") as fh:
            fh.truncate(os.path.getsize(orphan.path) // 2)
    stem.with_suffix(".lock").touch()  # nobody holds its lock: the owner is gone
    return stem, os.path.getsize(stem.with_suffix(".spool"))


@pytest.mark.parametrize("kind", ["garbage", "truncated"])
def test_a_damaged_spool_is_moved_aside_reported_once_and_listed(
    make_handler: Any, tmp_path: Path, stderr_notes: Callable[[], str], kind: str
) -> None:
    spool_dir = tmp_path / "spool"
    stem, size = plant_dead_spool(spool_dir, kind)
    receiver = TCPReceiver().start()
    handler = make_handler(receiver.port)
    handler.handle(record("after"))
    assert handler.wait_idle(30)
    assert wait_for(lambda: len(receiver.lines) == 1)
    assert sorted(p.name for p in spool_dir.iterdir()) == [f"{stem.name}.damaged"]
    notes = stderr_notes()
    assert notes.count("cannot be read") == 1
    assert f"moved aside to {stem}.damaged ({size} bytes)" in notes
    # Looked at again (another process starting), it is not reported again.
    again = make_handler(receiver.port)
    assert again.wait_idle(30)
    assert "cannot be read" not in stderr_notes()
    out = io.StringIO()
    call_command("reqlog_status", "--json", "--spool-dir", str(spool_dir), stdout=out)
    listed = [e for e in json.loads(out.getvalue()) if e["spool_dir"] == str(spool_dir)]
    assert listed  # once per live handler of that directory: both of this test's
    for entry in listed:
        assert entry["processes"] == [
            {
                "file": f"{stem}.damaged",
                "pid": int(stem.name.split("-")[0]),
                "damaged": True,
                "bytes": size,
            }
        ]
    out = io.StringIO()
    call_command("reqlog_status", "--spool-dir", str(spool_dir), stdout=out)
    assert f"{stem}.damaged (damaged, moved aside, not replayed): {size} bytes" in out.getvalue()
    receiver.stop()


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real, tiny tmpfs mount (needs root; skipped otherwise)."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def remount(mount: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(mount)], check=True)


def test_full_disk_falls_back_to_memory_then_resumes(make_handler: Any, tmpfs: Path) -> None:
    port = free_port()
    handler = make_handler(port, spool_dir=str(tmpfs / "spool"))
    filler = "d" * 4000
    for i in range(200):  # ~800 KB into a 256 KB disk
        handler.handle(record(f"{i} {filler}"))
    assert wait_for(lambda: handler.metrics.memory_bytes > 0 and handler.metrics.backlog == 200)
    assert handler.metrics.dropped == 0
    assert "full" in handler.metrics.last_failure or "disk" in handler.metrics.last_failure
    remount(tmpfs, "size=16m")
    assert wait_for(lambda: handler.metrics.memory_bytes == 0 and handler.metrics.spooled >= 200)
    receiver = TCPReceiver(port).start()
    assert wait_for(lambda: len(receiver.lines) >= 200)
    assert [int(e["message"].split()[0]) for e in receiver.events()] == list(range(200))
    receiver.stop()


def test_read_only_spool_dir_falls_back_to_memory_then_resumes(
    make_handler: Any, tmpfs: Path, stderr_notes: Callable[[], str]
) -> None:
    (tmpfs / "spool").mkdir()
    remount(tmpfs, "ro")
    port = free_port()
    handler = make_handler(port, spool_dir=str(tmpfs / "spool"), memory_buffer_bytes=20_000)
    for i in range(100):
        handler.handle(record(f"{i} {'r' * 300}"))
    assert handler.metrics.queued == 100
    assert wait_for(lambda: handler.metrics.backlog + handler.metrics.dropped == 100)
    assert handler.metrics.spooled == 0
    # The memory fallback is capped too: the oldest go, and are counted.
    assert handler.metrics.dropped > 0
    assert handler.metrics.memory_bytes <= 20_000
    kept = handler.metrics.backlog
    remount(tmpfs, "rw")
    assert wait_for(lambda: handler.metrics.spooled == kept and handler.metrics.memory_bytes == 0)
    receiver = TCPReceiver(port).start()
    assert wait_for(lambda: len(receiver.lines) >= kept)
    numbers = [int(e["message"].split()[0]) for e in receiver.events()]
    assert numbers == list(range(100 - kept, 100))
    handler.close()
    assert reported_drops(stderr_notes()) == {"memory cap": 100 - kept}
    receiver.stop()


def test_fork_gives_the_child_its_own_thread_spool_and_metrics(make_handler: Any) -> None:
    port = free_port()  # nothing listens yet: both processes spool
    handler = make_handler(port)
    handler.handle(record("parent before fork"))
    assert wait_for(lambda: handler.metrics.spooled == 1)
    parent_stem = handler._store.own.stem
    parent_ids = (id(handler._worker), id(handler._store), id(handler.metrics))
    to_parent, from_child = os.pipe()
    from_parent, to_child = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            for i in range(50):
                handler.handle(record(f"child {i}"))
            spooled = wait_for(lambda: handler.metrics.spooled == 50, timeout=30)
            spool_stem = handler._store.own.stem if handler._store.own else None
            os.write(from_child, b"spooled\n")
            os.read(from_parent, 1)  # the parent has started the receiver
            report = {
                "spooled": spooled,
                "spool_stem": spool_stem,
                "idle": handler.wait_idle(30),
                "fresh": [id(handler._worker), id(handler._store), id(handler.metrics)],
                "stem": handler._store.own.stem if handler._store.own else None,
                "sent": handler.metrics.sent,
                "queued": handler.metrics.queued,
            }
            handler.close()
            os.write(from_child, json.dumps(report).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(from_child)
    os.close(from_parent)
    with os.fdopen(to_parent, "rb") as child_says:
        assert child_says.readline() == b"spooled\n"
        receiver = TCPReceiver(port).start()
        os.write(to_child, b"g")
        for i in range(50):
            handler.handle(record(f"parent {i}"))
        _, status = os.waitpid(pid, 0)
        child = json.loads(child_says.read())
    os.close(to_child)
    assert status == 0
    assert child["spooled"] is True and child["idle"] is True
    assert not set(child["fresh"]) & set(parent_ids)  # its own worker, store and metrics
    assert child["spool_stem"] not in (None, parent_stem)  # a spool file of its own...
    assert child["stem"] is None  # ...replayed to the end and removed
    assert child["sent"] == child["queued"] == 50  # not the parent's spooled event
    assert handler.wait_idle(30)
    assert handler.metrics.sent == 51
    messages = [e["message"] for e in receiver.events()]
    assert sorted(messages) == sorted(
        [
            "parent before fork",
            *(f"child {i}" for i in range(50)),
            *(f"parent {i}" for i in range(50)),
        ]
    )
    # The parent's spool file was its own to replay and remove.
    assert not os.path.exists(parent_stem + ".spool")
    receiver.stop()


EXITING_CHILD = """
import logging, sys
from django_reqlog.handlers import LogstashHandler
handler = LogstashHandler(
    "127.0.0.1", int(sys.argv[1]), spool_dir=sys.argv[2], metrics_interval=None,
    close_timeout=1.0,
)
for i in range(int(sys.argv[3])):
    handler.handle(logging.LogRecord("child", 20, "", 0, f"exit {i}", (), None))
# No close(): interpreter exit runs logging.shutdown(), which must spool them.
"""


def test_interpreter_exit_spools_what_is_still_queued(tmp_path: Path) -> None:
    spool_dir = str(tmp_path / "spool")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", EXITING_CHILD, str(free_port()), spool_dir, "300"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (entry,) = directory_status(spool_dir)
    assert entry["alive"] is False
    assert entry["backlog"] == 300


def test_stderr_warnings_work_in_a_child_forked_while_the_lock_was_held() -> None:
    """A shipper worker may be inside warn() when gunicorn forks: the child must not hang."""
    from django_reqlog import _stderr

    read_end, write_end = os.pipe()
    with _stderr._state.lock:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            code = 1
            try:  # never let the child return into pytest
                signal.alarm(30)  # a hang becomes a failed exit status, not a stuck test
                os.close(read_end)
                os.dup2(write_end, 2)
                sys.stderr = os.fdopen(2, "w")
                _stderr.warn("from the child", key="fork-test")
                code = 0
            finally:
                os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as child_stderr:
        output = child_stderr.read()  # EOF once the child has exited
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert output == "django-reqlog: from the child\n"
