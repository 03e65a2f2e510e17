"""reqlog_setup's Kibana hook. Kibana cannot run here, so this checks the
request we send (a loopback server records it; it does not pretend to be
Kibana beyond answering) and the error paths."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from django_reqlog import es_setup

REPO = Path(__file__).resolve().parents[1]


def recorder(answer: dict[str, Any], status: int = 200) -> tuple[ThreadingHTTPServer, list[Any]]:
    seen: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.path, self.headers, body))
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def test_import_request_shape(tmp_path: Path) -> None:
    ndjson = tmp_path / "objects.ndjson"
    ndjson.write_bytes(b'{"type":"index-pattern","id":"reqlog","attributes":{"title":"logs-*"}}\n')
    server, seen = recorder({"success": True, "successCount": 1})
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        lines = es_setup.kibana_import(url, [ndjson], es_setup.Connection(url, "elastic", "pw"))
    finally:
        server.shutdown()
    assert lines == ["imported 1 objects from objects.ndjson"]
    (path, headers, body) = seen[0]
    assert path == "/api/saved_objects/_import?overwrite=true"
    assert headers["kbn-xsrf"]
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"elastic:pw").decode()
    boundary = headers["Content-Type"].split("boundary=")[1]
    assert body.startswith(f"--{boundary}\r\n".encode())
    assert b'name="file"; filename="objects.ndjson"' in body
    assert ndjson.read_bytes() in body


@pytest.mark.parametrize(
    ("answer", "status", "message"),
    [
        ({"success": False, "errors": [{"id": "x"}]}, 200, "Kibana rejected objects.ndjson"),
        ({"statusCode": 401}, 401, "failed: 401"),
    ],
)
def test_import_errors_are_clear(
    tmp_path: Path, answer: dict[str, Any], status: int, message: str
) -> None:
    ndjson = tmp_path / "objects.ndjson"
    ndjson.write_text("{}\n")
    server, _ = recorder(answer, status)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(es_setup.SetupError, match=message):
            es_setup.kibana_import(url, [ndjson], es_setup.Connection(url))
    finally:
        server.shutdown()


def test_default_files_are_the_stack_objects() -> None:
    files = es_setup.kibana_ndjson_files()
    assert files, "no Kibana NDJSON found in the package or elk/kibana"
    for path in files:
        assert path.suffix == ".ndjson"
        for line in path.read_text().splitlines():
            assert isinstance(json.loads(line), dict)
