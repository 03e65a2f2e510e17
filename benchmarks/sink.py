"""Loopback TCP sinks, run in their own process so they cost the benchmark nothing.

``reading``: accepts and reads everything (a healthy Logstash ``tcp`` input).
``stalled``: accepts and never reads (a Logstash whose pipeline is blocked).
The stalled listener asks for a small receive buffer so a sender reaches the
steady state of a long stall (full buffers) after seconds, not minutes.

Prints ``<reading port> <stalled port>`` on stdout, then serves until stdin closes.
"""

from __future__ import annotations

import selectors
import socket
import sys
import threading


def _listener(rcvbuf: int | None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf is not None:
        # Set before listen() so accepted sockets inherit it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    return sock


def serve() -> None:
    reading = _listener(None)
    stalled = _listener(4096)
    held: list[socket.socket] = []  # stalled connections: kept open, never read
    sel = selectors.DefaultSelector()
    sel.register(reading, selectors.EVENT_READ, "accept-read")
    sel.register(stalled, selectors.EVENT_READ, "accept-stall")
    stop = threading.Event()

    def watch_stdin() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(reading.getsockname()[1], stalled.getsockname()[1], flush=True)
    received = 0
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.2):
            if key.data == "accept-read":
                conn, _ = reading.accept()
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ, "read")
            elif key.data == "accept-stall":
                conn, _ = stalled.accept()
                held.append(conn)
            else:
                conn = key.fileobj  # type: ignore[assignment]
                try:
                    data = conn.recv(1 << 20)
                except OSError:
                    data = b""
                if data:
                    received += len(data)
                else:
                    sel.unregister(conn)
                    conn.close()
    for conn in held:
        conn.close()


if __name__ == "__main__":
    serve()
