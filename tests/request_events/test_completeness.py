"""The event says what happened, completely: body sizes whatever the
settings, every part of a large upload, the sampling rate, and the ECS
fields of a request (span and transaction, start and end, ports, full URL,
HTTP version under ASGI, streams the client cut short)."""

from __future__ import annotations

import asyncio
import io
import json
import types
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.test import Client, RequestFactory, override_settings
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from django_reqlog import middleware
from django_reqlog.capture import MultipartCounter
from django_reqlog.middleware import RequestLogMiddleware

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024


def _reading_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(len(request.body)), content_type="text/plain")


# -- body size without body capture --------------------------------------------


@override_settings(REQLOG_CAPTURE_REQUEST_BODY=False)
def test_size_from_content_length_without_body_capture(capture: Any) -> None:
    raw = b'{"password": "never-looked-at"}'
    Client().post("/echo/", data=raw, content_type="application/json")
    doc = capture.only()
    assert doc["http"]["request"]["body"] == {"bytes": len(raw)}
    assert doc["reqlog"]["request"]["body"]["kind"] == "omitted"
    assert "never-looked-at" not in capture.ecs_lines()[0]


@override_settings(REQLOG_CAPTURE_REQUEST_BODY=False)
def test_chunked_size_counted_as_the_application_reads(capture: Any) -> None:
    raw = b"z" * 20_000
    request = RequestFactory().post("/x/", data=raw, content_type="text/plain")
    del request.META["CONTENT_LENGTH"]
    request.META["HTTP_TRANSFER_ENCODING"] = "chunked"
    request._stream = LimitedStream(io.BytesIO(raw), len(raw))  # type: ignore[attr-defined]
    response = RequestLogMiddleware(_reading_view)(request)
    assert response.content == b"20000"
    doc = capture.only()
    assert doc["http"]["request"]["body"] == {"bytes": 20_000}
    assert doc["reqlog"]["request"]["body"] == {
        "truncated": False,
        "kind": "omitted",
        "unread": False,
    }


# -- multipart uploads larger than the cap -------------------------------------


def _upload(size: int) -> dict[str, Any]:
    return {
        "title": "holiday",
        "photo": SimpleUploadedFile("big.png", b"\x89PNG" + b"\x00" * (size - 4), "image/png"),
        "password": "late-secret",
        "caption": "after the file",
        "second": SimpleUploadedFile("notes.txt", b"n" * 1000, "text/plain"),
    }


def test_large_upload_parsed_by_the_view_has_exact_sizes_and_every_field(capture: Any) -> None:
    response = Client().post("/form/", data=_upload(3 * MIB))
    assert response.json()["post"] == {
        "title": ["holiday"],
        "password": ["late-secret"],
        "caption": ["after the file"],
    }
    doc = capture.only()
    content = json.loads(doc["http"]["request"]["body"]["content"])
    assert content == {
        "title": "holiday",
        "photo": f"[file filename=big.png content_type=image/png bytes={3 * MIB}]",
        "password": "[REDACTED]",
        "caption": "[not captured bytes=14]",
        "second": "[file filename=notes.txt content_type=text/plain bytes=1000]",
    }
    body = doc["reqlog"]["request"]["body"]
    assert body == {"truncated": True, "kind": "multipart", "unread": False}


def test_large_upload_the_view_never_reads_says_what_is_known(capture: Any) -> None:
    response = Client().post("/ignore/", data=_upload(3 * MIB))
    assert response.status_code == 200
    doc = capture.only()
    content = json.loads(doc["http"]["request"]["body"]["content"])
    # Only the first REQLOG_MAX_BODY_BYTES were read (by us, and pushed back).
    assert content["title"] == "holiday"
    size = content["photo"].rsplit("bytes=>=", 1)[1].rstrip("]")
    assert 0 < int(size) < 8192
    assert list(content) == ["title", "photo"]
    assert doc["reqlog"]["request"]["body"]["unread"] is True


@pytest.mark.parametrize("chunk", [1, 7, 64, 4096])
def test_multipart_counter_across_any_chunking(chunk: int) -> None:
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="a"\r\n\r\n'
        b"alpha\r\n"
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="f"; filename="f.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + b"\r\n--XY" * 50 + b"\r\n"
        b"--XyZ--\r\n"
    )
    counter = MultipartCounter(b"XyZ")
    for start in range(0, len(body), chunk):
        counter.feed(body[start : start + chunk])
    sizes = [
        (head.split(b'name="')[1].split(b'"')[0], size, done) for head, size, done in counter.parts
    ]
    assert sizes == [(b"a", 5, True), (b"f", 300, True)]


# -- sampling ------------------------------------------------------------------


def test_kept_events_carry_their_sampling_rate(
    capture: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(middleware, "random", types.SimpleNamespace(random=lambda: 0.1))
    with override_settings(REQLOG_SAMPLE_RATE=0.25):
        Client().get("/hello/")
        Client().get("/missing/")
    Client().get("/hello/")
    rates = [
        (
            d["http"]["response"]["status_code"],
            d["reqlog"]["sample_rate"],
            d["reqlog"]["sample_weight"],
        )
        for d in capture.ecs_docs()
    ]
    assert rates == [(200, 0.25, 4.0), (404, 1.0, 1.0), (200, 1.0, 1.0)]
    assert [d["sample_rate"] for d in capture.logstash_docs()] == [0.25, 1.0, 1.0]


# -- ECS completeness ------------------------------------------------------------


def test_span_transaction_and_parent(capture: Any) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    Client().get("/hello/", headers={"traceparent": traceparent})
    Client().get("/hello/")
    first, second = capture.ecs_docs()
    assert first["trace"] == {"id": "4bf92f3577b34da6a3ce929d0e0e4736"}
    assert first["reqlog"]["parent_span_id"] == "00f067aa0ba902b7"
    for doc in (first, second):
        span = doc["span"]["id"]
        assert len(span) == 16 and int(span, 16) and span != "00f067aa0ba902b7"
        assert doc["transaction"] == {"id": span}
    assert first["span"] != second["span"]
    assert "parent_span_id" not in second["reqlog"] and "trace" not in second


def test_start_and_end(capture: Any) -> None:
    Client().get("/hello/")
    event = capture.only()["event"]
    assert event["start"] <= event["end"]
    assert event["start"].endswith("Z") and event["end"].endswith("Z")


def test_ports_full_url_under_wsgi(capture: Any) -> None:
    Client().get("/hello/?token=s3cr3t-value&q=1", REMOTE_ADDR="203.0.113.7", REMOTE_PORT="51234")
    doc = capture.only()
    assert doc["client"] == {"ip": "203.0.113.7", "port": 51234}
    assert doc["source"] == {"ip": "203.0.113.7", "port": 51234}
    assert doc["url"]["full"] == "http://testserver/hello/?token=[REDACTED]&q=1"


@override_settings(REQLOG_TRUSTED_PROXIES=["10.0.0.0/8"])
def test_forwarded_client_has_no_port_of_its_own(capture: Any) -> None:
    Client().get(
        "/hello/", REMOTE_ADDR="10.0.0.2", REMOTE_PORT="40000", HTTP_X_FORWARDED_FOR="198.51.100.4"
    )
    doc = capture.only()
    assert doc["client"] == {"ip": "198.51.100.4"}
    assert doc["source"] == {"ip": "10.0.0.2", "port": 40000}


async def _asgi_get(path: str, **scope: Any) -> list[dict[str, Any]]:
    """One request through Django's real ASGI handler, as a server sends it."""
    messages: list[dict[str, Any]] = []
    request = {"type": "http.request", "body": b"", "more_body": False}
    sent = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not sent.is_set():
            sent.set()
            return request
        await asyncio.Event().wait()  # no disconnect: the handler cancels this
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    base = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "method": "GET",
        "path": path,
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "server": ("testserver", 80),
        "scheme": "http",
    }
    await ASGIHandler()({**base, **scope}, receive, send)
    return messages


@pytest.mark.parametrize("version", ["1.1", "2"])
def test_asgi_http_version_and_client_port(capture: Any, version: str) -> None:
    messages = async_to_sync(_asgi_get)(
        "/async/", http_version=version, client=("198.51.100.9", 50123)
    )
    assert messages[0]["status"] == 200
    doc = capture.only()
    assert doc["http"]["version"] == version
    assert doc["client"] == {"ip": "198.51.100.9", "port": 50123}
    assert doc["source"] == {"ip": "198.51.100.9", "port": 50123}
    assert doc["url"]["full"] == "http://testserver/async/"


def _chunks(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse((b"x" * 100 for _ in range(10)), content_type="text/plain")


def test_stream_closed_early_is_flagged_aborted(capture: Any) -> None:
    response = RequestLogMiddleware(_chunks)(RequestFactory().get("/s/"))
    stream = iter(response.streaming_content)  # type: ignore[attr-defined]
    next(stream)
    response.close()  # the server gives up: the client went away
    doc = capture.only()
    assert doc["reqlog"]["response"]["aborted"] is True
    assert doc["http"]["response"]["body"]["bytes"] == 100


def test_stream_sent_whole_is_not_aborted(capture: Any) -> None:
    response = RequestLogMiddleware(_chunks)(RequestFactory().get("/s/"))
    assert len(b"".join(response.streaming_content)) == 1000  # type: ignore[attr-defined]
    response.close()
    doc = capture.only()
    assert doc["reqlog"]["response"]["aborted"] is False
    assert doc["http"]["response"]["body"]["bytes"] == 1000


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    contents=st.lists(st.binary(max_size=300), min_size=1, max_size=6),
    chunk=st.integers(min_value=1, max_value=97),
)
def test_multipart_counter_sizes_are_exact_for_any_content(
    contents: list[bytes], chunk: int
) -> None:
    boundary = b"----reqlogBoundary7MA4YWxk"
    assume(not any(b"\r\n--" + boundary in b"\r\n" + c + b"\r\n" for c in contents))
    body = (
        b"".join(
            b"--" + boundary + b"\r\n"
            b'Content-Disposition: form-data; name="p%d"; filename="x"\r\n\r\n' % i + c + b"\r\n"
            for i, c in enumerate(contents)
        )
        + b"--"
        + boundary
        + b"--\r\n"
    )
    counter = MultipartCounter(boundary)
    for start in range(0, len(body), chunk):
        counter.feed(body[start : start + chunk])
    assert [(size, done) for _, size, done in counter.parts] == [(len(c), True) for c in contents]


async def _async_chunks(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> Any:
        for _ in range(10):
            yield b"y" * 100

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def test_async_stream_closed_early_is_flagged_aborted(capture: Any) -> None:
    async def serve() -> None:
        response = await RequestLogMiddleware(_async_chunks)(RequestFactory().get("/s/"))
        stream = response.streaming_content
        await stream.__anext__()
        await stream.aclose()  # the ASGI handler stops iterating: the client went away
        response.close()

    async_to_sync(serve)()
    doc = capture.only()
    assert doc["reqlog"]["response"]["aborted"] is True
    assert doc["http"]["response"]["body"]["bytes"] == 100
