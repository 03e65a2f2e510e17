"""Loopback sinks for the shipper-handler tests: TCP, UDP, HTTP and an ES proxy;
and processes that log through a shipper whose sink is down.

All of them listen on 127.0.0.1 and record what they were sent. None of them
imitates Elasticsearch: the proxy forwards to the real node and only replaces
some item results of ``_bulk`` with 429s.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.helpers.waiting import free_port

_DROP_LINE = re.compile(
    r"^django-reqlog: .+ -> \S+: (\d+) events dropped since "
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \((.+)\)$",
    re.MULTILINE,
)


def reported_drops(stderr: str) -> dict[str, int]:
    """The drops the shippers reported on ``stderr``, added up by reason."""
    totals: dict[str, int] = {}
    for total, reasons in _DROP_LINE.findall(stderr):
        parts = [part.split(" ", 1) for part in reasons.split(", ")]
        assert sum(int(count) for count, _ in parts) == int(total)
        for count, reason in parts:
            totals[reason] = totals.get(reason, 0) + int(count)
    return totals


class TCPReceiver:
    """A json_lines sink. mode: "read" (normal), "stall" (accept, never read), "slow"."""

    def __init__(
        self, port: int | None = None, *, mode: str = "read", context: ssl.SSLContext | None = None
    ) -> None:
        self.port = port or free_port()
        self.mode = mode
        self.context = context
        self.lines: list[bytes] = []
        self.lock = threading.Lock()
        self.server: socket.socket | None = None
        self.conns: list[socket.socket] = []
        self.running = False

    def start(self) -> TCPReceiver:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        self.server = server
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        assert self.server is not None
        while self.running:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            if self.context is not None:
                try:
                    conn = self.context.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError):
                    continue
            self.conns.append(conn)
            if self.mode != "stall":
                threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        buffer = b""
        chunk = 2048 if self.mode == "slow" else 65536
        while True:
            try:
                data = conn.recv(chunk)
            except OSError:
                return
            if not data:
                return
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            with self.lock:
                self.lines.extend(lines)
            if self.mode == "slow":
                time.sleep(0.002)

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(line) for line in self.lines]

    def stop(self) -> None:
        self.running = False
        if self.server is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone
            # would leave the port listening.
            with contextlib.suppress(OSError):
                self.server.shutdown(socket.SHUT_RDWR)
            self.server.close()
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self.conns = []


class UDPReceiver:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.port = int(self.sock.getsockname()[1])
        self.datagrams: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data, _ = self.sock.recvfrom(70000)
            except OSError:
                return
            self.datagrams.append(data)

    def stop(self) -> None:
        self.sock.close()


class HTTPReceiver:
    """A Logstash-``http``-input-like sink: a JSON array per POST, answered 200.

    ``statuses`` is consumed one per request first (e.g. [503, 503] = down twice).
    With a ``gate``, each request is read (and counted in ``arrived``) at once
    but answered only once the gate is set: a batch held in flight on demand.
    """

    def __init__(
        self,
        statuses: list[int] | None = None,
        *,
        context: ssl.SSLContext | None = None,
        gate: threading.Event | None = None,
    ) -> None:
        self.statuses = list(statuses or [])
        self.events: list[dict[str, Any]] = []
        self.requests: list[dict[str, str]] = []
        self.arrived = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.arrived += 1
                if gate is not None:
                    gate.wait()
                outer.requests.append(dict(self.headers))
                status = outer.statuses.pop(0) if outer.statuses else 200
                if status == 200:
                    outer.events.extend(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if context is not None:
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ESProxy:
    """Forwards to the real Elasticsearch; can be "down" (503) or answer 429 per item.

    ``reject_once`` holds event ids whose first ``_bulk`` attempt gets a 429
    item result instead of being forwarded.
    """

    def __init__(self, upstream: str, ca_certs: str | None) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or (443 if parts.scheme == "https" else 9200)
        self.context: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self.context = ssl.create_default_context(cafile=ca_certs)
            if ca_certs is None:
                self.context.check_hostname = False
                self.context.verify_mode = ssl.CERT_NONE
        self.down = False
        self.reject_once: set[str] = set()
        self.rejected: list[str] = []
        self.bulk_ids: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if outer.down:
                    self._reply(503, {"Content-Type": "text/plain"}, b"down")
                    return
                if self.command in ("POST", "PUT") and self.path.split("?")[0].endswith("/_bulk"):
                    outer._bulk(self, body)
                    return
                status, headers, payload = outer.forward(
                    self.command, self.path, self.headers, body
                )
                self._reply(status, headers, payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

            def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.handler_class = Handler
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def forward(
        self, method: str, path: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if self.context is not None:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self.upstream_host, self.upstream_port, context=self.context, timeout=60
            )
        else:
            conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
        skip = ("host", "content-length", "accept-encoding", "connection")
        out = {k: v for k, v in headers.items() if k.lower() not in skip}
        conn.request(method, path, body=body or None, headers=out)
        response = conn.getresponse()
        payload = response.read()
        conn.close()
        return response.status, dict(response.getheaders()), payload

    def _bulk(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        lines = [line for line in body.split(b"\n") if line]
        pairs = list(zip(lines[0::2], lines[1::2], strict=True))
        keep: list[bytes] = []
        plan: list[str | None] = []  # None = forwarded, else the id answered 429
        for action, doc in pairs:
            meta = next(iter(json.loads(action).values()))
            event_id = meta.get("_id", "")
            self.bulk_ids.append(event_id)
            if event_id in self.reject_once:
                self.reject_once.discard(event_id)
                self.rejected.append(event_id)
                plan.append(event_id)
            else:
                keep += [action, doc]
                plan.append(None)
        forwarded: list[dict[str, Any]] = []
        headers = {"Content-Type": "application/json", "X-Elastic-Product": "Elasticsearch"}
        took = 0
        if keep:
            status, headers, payload = self.forward(
                request.command, request.path, request.headers, b"\n".join(keep) + b"\n"
            )
            if status != 200:
                request._reply(status, headers, payload)  # type: ignore[attr-defined]
                return
            result = json.loads(payload)
            forwarded = list(result["items"])
            took = result.get("took", 0)
        items: list[dict[str, Any]] = []
        for event_id in plan:
            if event_id is None:
                items.append(forwarded.pop(0))
            else:
                error = {"type": "es_rejected_execution_exception", "reason": "proxy: try later"}
                items.append({"create": {"_id": event_id, "status": 429, "error": error}})
        answer = {"took": took, "errors": any("error" in next(iter(i.values())) for i in items)}
        answer["items"] = items
        headers = {k: v for k, v in headers.items() if k.lower() != "content-encoding"}
        request._reply(200, headers, json.dumps(answer).encode())  # type: ignore[attr-defined]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def make_tls_files(directory: str) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1/localhost via the openssl CLI."""
    import shutil
    import subprocess

    import pytest

    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = f"{directory}/cert.pem", f"{directory}/key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", key, "-out", cert,
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


# -- processes that log through a shipper whose sink is down -----------------------

ROOT = Path(__file__).resolve().parents[2]
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


def _child(code: str, *args: object) -> subprocess.Popen[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        env=env,
    )


def start_outage(
    spool_dir: Path, size: int, count: int, *, queue_size: int, cap: int
) -> subprocess.Popen[str]:
    """``count`` events of ``size`` bytes through a shipper whose sink is down."""
    return _child(OUTAGE_CHILD, spool_dir, size, count, queue_size, cap)


def start_steady(spool_dir: Path, rate: float) -> subprocess.Popen[str]:
    """``rate`` events a second through a shipper whose sink is down, until killed."""
    return _child(STEADY_CHILD, spool_dir, rate)


def kill_when_logged(child: subprocess.Popen[str], count: int) -> int:
    """SIGKILL ``child`` once it has logged ``count`` events; return how many it logged."""
    assert child.stdout is not None
    last = 0
    while last < count - 1:
        last = int(child.stdout.readline())
    child.send_signal(signal.SIGKILL)
    child.wait()
    logged = 1 + max([last, *(int(line) for line in child.stdout)])
    child.stdout.close()
    return logged


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


def spooled_messages(spool_dir: Path) -> list[str]:
    """The messages of the events in ``spool_dir``'s spools, in order; each
    file must pass SQLite's integrity check."""
    from django_reqlog.handlers.status import directory_status

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
