"""A real gunicorn with two workers writing one JSON-lines file, the traffic
that drives it, and the reader that checks the files afterwards.

Used by tests/handlers/test_files_under_gunicorn.py.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers.waiting import free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
LOG_NAME = "reqlog.ndjson"


class SplitWriteFileHandler(logging.FileHandler):
    """A shared-file handler that writes each line in 8 KiB pieces, as the
    text stream of CPython 3.6 did (seen with strace); a pause between pieces
    lets another worker's write land in between. Only here to show that the
    interleaving check finds what such a writer does."""

    def emit(self, record: logging.LogRecord) -> None:
        line = (self.format(record) + "\n").encode()
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            for start in range(0, len(line), 8192):
                os.write(fd, line[start : start + 8192])
                time.sleep(0.001)
        finally:
            os.close(fd)


@dataclass
class Gunicorn:
    port: int
    proc: subprocess.Popen[bytes]
    stderr_path: Path

    def stop(self) -> None:
        """Graceful stop, as a deploy does (SIGTERM, workers finish their requests)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


@contextmanager
def gunicorn(
    directory: Path, handler: dict[str, Any], settings: dict[str, Any] | None = None
) -> Iterator[Gunicorn]:
    """Two gthread workers forked from a preloading master, logging through
    ``handler`` (a LOGGING handler entry) into ``directory``."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.helpers.files_settings",
        REQLOG_FILES_HANDLER=json.dumps(handler),
        REQLOG_TEST_SETTINGS=json.dumps(settings or {}),
    )
    command = [
        sys.executable, "-m", "gunicorn", "tests.helpers.files_wsgi:application", "--preload",
        "--workers", "2", "--worker-class", "gthread", "--threads", "4",
        "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "30",
    ]  # fmt: skip
    stderr_path = directory / "gunicorn-stderr.txt"
    with stderr_path.open("wb") as err:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err)
    server = Gunicorn(port, proc, stderr_path)
    try:
        assert wait_for(lambda: proc.poll() is not None or _ready(port), 60), server.stderr
        assert proc.poll() is None, server.stderr
        yield server
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def _ready(port: int) -> bool:
    try:
        return request(port, "GET", "/healthz", "ready-probe") == 200
    except OSError:
        return False


def request(port: int, method: str, path: str, request_id: str, body: bytes = b"") -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"X-Request-ID": request_id, "Content-Type": "text/plain"}
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def drive(port: int, ids: list[str], *, body: bytes = b"") -> None:
    """One request per ID, eight at a time, so both workers write at once."""
    method, path = ("POST", "/echo/") if body else ("GET", "/hello/files/")

    def one(request_id: str) -> int:
        return request(port, method, f"{path}?n={request_id}", request_id, body)

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(one, ids))
    assert statuses == [200] * len(ids)


@dataclass
class Files:
    """Every line of every ``reqlog.ndjson*`` file of a run."""

    docs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    broken: list[str] = field(default_factory=list)

    def ids(self, name: str | None = None) -> Counter[str]:
        files = [name] if name else list(self.docs)
        return Counter(
            str(doc.get("http", {}).get("request", {}).get("id"))
            for file in files
            for doc in self.docs.get(file, [])
        )

    def pids(self, ids: set[str]) -> set[int]:
        return {
            doc["process"]["pid"]
            for docs in self.docs.values()
            for doc in docs
            if doc.get("http", {}).get("request", {}).get("id") in ids
        }


def read_files(directory: Path) -> Files:
    """Parse each line on its own: a line that is not one whole JSON object
    (cut, or two writers' bytes mixed) is kept, shortened, in ``broken``."""
    found = Files()
    for path in sorted(directory.glob(f"{LOG_NAME}*")):
        found.docs[path.name] = []
        for raw in path.read_bytes().split(b"\n")[:-1]:
            try:
                doc = json.loads(raw)
                assert isinstance(doc, dict)
            except (ValueError, AssertionError):
                found.broken.append(f"{path.name}: {raw[:60]!r}...{raw[-60:]!r}")
                continue
            found.docs[path.name].append(doc)
        if not path.read_bytes().endswith(b"\n") and path.stat().st_size:
            found.broken.append(f"{path.name}: no newline at the end")
    return found


def rotate_like_logrotate(directory: Path) -> None:
    """logrotate's default ``create`` mode: rename the live file, create a
    new empty one with the configured mode."""
    live = directory / LOG_NAME
    live.rename(directory / f"{LOG_NAME}.1")
    live.touch(mode=0o640)
