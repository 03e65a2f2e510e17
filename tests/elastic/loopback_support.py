"""A loopback HTTP server that records every request and gives one fixed answer.

The Kibana import tests see what is POSTed; the client tests count how often
a request is sent. It does not pretend to be Kibana or Elasticsearch beyond
answering.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def recorder(answer: dict[str, Any], status: int = 200) -> tuple[ThreadingHTTPServer, list[Any]]:
    """A started server answering ``status`` with ``answer``; ``(path, headers, body)`` per request."""
    seen: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append((self.path, self.headers, body))
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen
