"""reqlog_setup's Kibana import. Kibana cannot run here, so this checks the
request we send (a loopback server records it; it does not pretend to be
Kibana beyond answering) and the error paths."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from django_reqlog.elastic import kibana
from django_reqlog.elastic.connection import Connection
from django_reqlog.elastic.errors import ElasticError
from tests.elastic.loopback_support import recorder


def test_import_request_shape(tmp_path: Path) -> None:
    ndjson = tmp_path / "objects.ndjson"
    ndjson.write_bytes(b'{"type":"index-pattern","id":"reqlog","attributes":{"title":"logs-*"}}\n')
    server, seen = recorder({"success": True, "successCount": 1})
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        count = kibana.import_ndjson(
            url, ndjson, authorization=Connection(url, "elastic", "pw").authorization()
        )
    finally:
        server.shutdown()
    assert count == 1
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
        with pytest.raises(ElasticError, match=message):
            kibana.import_ndjson(url, ndjson, authorization=Connection(url).authorization())
    finally:
        server.shutdown()


def test_kibana_import_reports_unreachable_kibana(
    es_settings: dict[str, str], tmp_path: Path
) -> None:
    ndjson = tmp_path / "objects.ndjson"
    ndjson.write_text('{"type":"index-pattern","id":"x","attributes":{"title":"logs-*"}}\n')
    conn = Connection(es_settings["url"], "u", "p")
    with pytest.raises(ElasticError, match=r"Kibana at http://127\.0\.0\.1:9 is unreachable"):
        kibana.import_ndjson(
            "http://127.0.0.1:9", ndjson, authorization=conn.authorization(), timeout=2
        )
