"""The middleware end to end: direct calls, the test client, the async client."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, RequestFactory, override_settings
from rest_framework.authtoken.models import Token

from django_reqlog.middleware import RequestLogMiddleware
from django_reqlog.request_id import RequestIDFilter, get_request_id
from tests.views import Boom
from tests.views import plain_ok as _view

pytestmark = pytest.mark.django_db


async def _async_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def test_direct_sync_call_emits_one_event(capture):
    request = RequestFactory().post(
        "/direct/?q=1", data=b'{"a": 1}', content_type="application/json"
    )
    response = RequestLogMiddleware(_view)(request)
    assert response.content == b"ok"
    doc = capture.only()
    assert doc["http"]["request"]["method"] == "POST"
    assert doc["http"]["request"]["body"]["content"] == '{"a": 1}'
    assert doc["http"]["request"]["body"]["bytes"] == 8
    assert doc["http"]["response"]["status_code"] == 200
    assert doc["http"]["response"]["body"]["bytes"] == 2
    assert doc["url"] == {
        "path": "/direct/",
        "query": "q=1",
        "original": "/direct/?q=1",
        "full": "http://testserver/direct/?q=1",
        "scheme": "http",
        "domain": "testserver",
    }
    assert doc["log.level"] == "info"
    assert response["X-Request-ID"] == doc["http"]["request"]["id"]


def _view_with_its_own_id(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("ok", content_type="text/plain")
    response["x-request-id"] = "set-by-the-view"
    return response


@pytest.mark.parametrize("header", ["X-Request-ID", "X-Correlation-ID"])
def test_a_request_id_header_the_view_set_is_kept(capture, header):
    with override_settings(REQLOG_REQUEST_ID_HEADER=header):
        response = RequestLogMiddleware(_view_with_its_own_id)(RequestFactory().get("/"))
    assert response["X-Request-ID"] == "set-by-the-view"
    if header == "X-Correlation-ID":
        assert response[header] == capture.only()["http"]["request"]["id"]
    else:
        assert capture.only()["http"]["request"]["id"] != "set-by-the-view"
    assert [name.lower() for name, _ in response.items()].count(header.lower()) == 1


def test_direct_async_call_emits_one_event(capture):
    middleware = RequestLogMiddleware(_async_view)
    assert asyncio.iscoroutinefunction(middleware)
    request = RequestFactory().get("/direct-async/")
    response = asyncio.run(middleware(request))
    assert response.content == b"ok"
    doc = capture.only()
    assert doc["url"]["path"] == "/direct-async/"
    assert doc["http"]["response"]["status_code"] == 200


@pytest.mark.parametrize(
    ("url", "status", "level", "route", "view"),
    [
        ("/hello/bob/", 200, "info", "hello/<str:name>/", "hello"),
        ("/missing/", 404, "warning", "missing/", "missing"),
        ("/no-such-url/", 404, "warning", None, None),
    ],
)
def test_client_levels_routes_and_views(capture, url, status, level, route, view):
    response = Client().get(url)
    assert response.status_code == status
    doc = capture.only()
    assert doc["log.level"] == level
    assert doc["http"]["response"]["status_code"] == status
    assert doc.get("reqlog", {}).get("route") == route
    assert doc.get("reqlog", {}).get("view") == view
    assert doc["event"]["outcome"] == "success"
    assert isinstance(doc["event"]["duration"], int) and doc["event"]["duration"] > 0


def test_raising_view_logs_500_with_exception_and_still_raises(capture):
    with pytest.raises(Boom):
        Client().get("/boom/")
    doc = capture.only()
    assert doc["log.level"] == "error"
    assert doc["http"]["response"]["status_code"] == 500
    assert doc["event"]["outcome"] == "failure"
    assert doc["error"]["type"] == "Boom"
    assert doc["error"]["message"] == "kaboom"
    assert "raise Boom" in doc["error"]["stack_trace"]


def test_raising_view_without_reraise_returns_500(reqlog_events):
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    (event,) = reqlog_events
    assert event["error"]["type"] == "Boom"


def test_async_client_views(reqlog_events):
    async def run() -> tuple[int, int, bytes]:
        client = AsyncClient(raise_request_exception=False)
        ok = await client.get("/async/")
        bad = await client.get("/async-boom/")
        return ok.status_code, bad.status_code, ok.content

    ok, bad, content = asyncio.run(run())
    assert (ok, bad, content) == (200, 500, b"async hello")
    assert [d["http"]["response"]["status_code"] for d in reqlog_events] == [200, 500]
    assert reqlog_events[1]["error"]["type"] == "Boom"


def test_streaming_response_is_not_consumed_and_event_waits_for_close(reqlog_events):
    response = Client().get("/stream/")
    assert reqlog_events == []  # nothing emitted before the stream is read
    body = b"".join(response.streaming_content)
    expected = b"".join(f"chunk-{i};".encode() * 100 for i in range(10))
    assert body == expected
    (event,) = reqlog_events
    assert event["http"]["response"]["body"]["bytes"] == len(expected)


def test_file_response_delivered_identical_and_counted(capture):
    response = Client().get("/file/")
    body = b"".join(response.streaming_content)
    response.close()
    assert body == b"0123456789" * 5000
    doc = capture.only()
    assert doc["http"]["response"]["body"]["bytes"] == 50000


def test_async_streaming_response(reqlog_events):
    async def run() -> bytes:
        response = await AsyncClient().get("/async-stream/")
        return b"".join([chunk async for chunk in response.streaming_content])

    body = asyncio.run(run())
    assert body == b"".join(f"a{i}".encode() * 10 for i in range(5))
    (event,) = reqlog_events
    assert event["http"]["response"]["body"]["bytes"] == len(body)


def test_json_body_masked_but_view_sees_original(reqlog_events):
    payload = {"username": "alice", "password": "hunter2-plain", "nested": [{"Token": "t0k3n"}]}
    raw = json.dumps(payload).encode()
    response = Client().post("/echo/", data=raw, content_type="application/json")
    assert response.json()["body_sha256"] == hashlib.sha256(raw).hexdigest()
    assert "hunter2-plain" not in reqlog_events.text and "t0k3n" not in reqlog_events.text
    body = json.loads(reqlog_events[0]["http"]["request"]["body"]["content"])
    assert body == {
        "username": "alice",
        "password": "[REDACTED]",
        "nested": [{"Token": "[REDACTED]"}],
    }


def test_multipart_fields_and_files(capture):
    upload = SimpleUploadedFile("photo.png", b"\x89PNG" + b"\x00" * 300, content_type="image/png")
    response = Client().post(
        "/form/", data={"title": "holiday", "password": "multipart-secret", "file": upload}
    )
    seen = response.json()
    assert seen["post"] == {"title": ["holiday"], "password": ["multipart-secret"]}
    assert seen["files"]["file"] == [hashlib.sha256(b"\x89PNG" + b"\x00" * 300).hexdigest()]
    doc = capture.only()
    assert doc["reqlog"]["request"]["body"]["kind"] == "multipart"
    content = json.loads(doc["http"]["request"]["body"]["content"])
    assert content["title"] == "holiday"
    assert content["password"] == "[REDACTED]"
    assert content["file"] == "[file filename=photo.png content_type=image/png bytes=304]"


def test_form_body_and_sensitive_post_parameters(capture):
    Client().post(
        "/sensitive/",
        data="pin=4321&color=blue&pwd=x",
        content_type="application/x-www-form-urlencoded",
    )
    doc = capture.only()
    assert doc["http"]["request"]["body"]["content"] == "pin=[REDACTED]&color=blue&pwd=[REDACTED]"
    assert doc["reqlog"]["request"]["body"]["kind"] == "form"


def test_invalid_utf8_body_decoded_with_replacement(capture):
    Client().post("/ignore/", data=b"caf\xe9 \xff\xfe ok", content_type="text/plain")
    doc = capture.only()
    assert doc["http"]["request"]["body"]["content"] == "caf\ufffd \ufffd\ufffd ok"


def test_five_megabyte_body_truncated_full_size_recorded(capture):
    raw = b"x" * (5 * 1024 * 1024)
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=None):
        response = Client().post("/echo/", data=raw, content_type="text/plain")
    assert response.json()["body_sha256"] == hashlib.sha256(raw).hexdigest()
    doc = capture.only()
    assert doc["http"]["request"]["body"]["bytes"] == len(raw)
    assert len(doc["http"]["request"]["body"]["content"]) == 8192
    assert doc["reqlog"]["request"]["body"]["truncated"] is True


def test_unread_large_body_never_raises_request_data_too_big(capture):
    # The view never reads it; Django's 2.5 MB limit must not fire because of us.
    response = Client().post("/ignore/", data=b"y" * (3 * 1024 * 1024), content_type="text/plain")
    assert response.status_code == 200
    doc = capture.only()
    assert doc["http"]["request"]["body"]["bytes"] == 3 * 1024 * 1024
    assert doc["http"]["request"]["body"]["content"] == "y" * 8192


@pytest.mark.parametrize(
    ("content_type", "encoding", "expected"),
    [
        ("application/octet-stream", "", "[binary content_type=application/octet-stream bytes=6]"),
        (
            "application/json",
            "gzip",
            "[binary content_type=application/json encoding=gzip bytes=6]",
        ),
    ],
)
def test_binary_and_gzip_bodies_are_placeholders(capture, content_type, encoding, expected):
    extra = {"HTTP_CONTENT_ENCODING": encoding} if encoding else {}
    Client().post("/ignore/", data=b"\x1f\x8b\x00\x01\x02\x03", content_type=content_type, **extra)
    doc = capture.only()
    assert doc["http"]["request"]["body"]["content"] == expected
    assert doc["reqlog"]["request"]["body"]["kind"] == "binary"


def test_drf_token_user_and_request_data_intact(reqlog_events):
    user = User.objects.create_user("tokenuser", password="pw")
    token = Token.objects.create(user=user)
    response = Client().post(
        "/api/echo/",
        data={"a": [1, 2], "secret": "drf-secret"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )
    assert response.json() == {"data": {"a": [1, 2], "secret": "drf-secret"}, "user": "tokenuser"}
    (event,) = reqlog_events
    assert event["user"] == {"id": str(user.pk), "name": "tokenuser"}
    assert "drf-secret" not in reqlog_events.text
    assert token.key not in reqlog_events.text


def test_anonymous_user_has_no_user_fields(capture):
    Client().get("/hello/")
    assert "user" not in capture.only()


@pytest.mark.parametrize(
    ("incoming", "echoed"),
    [
        ("abc-123_X.y", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("bad id", False),
        ("<script>", False),
        ("", False),
    ],
)
def test_request_id_validated_and_echoed(capture, incoming, echoed):
    response = Client().get("/hello/", HTTP_X_REQUEST_ID=incoming)
    doc = capture.only()
    logged = doc["http"]["request"]["id"]
    assert response["X-Request-ID"] == logged
    assert (logged == incoming) is echoed
    if not echoed:
        assert len(logged) == 32 and incoming not in response["X-Request-ID"] or incoming == ""


def test_request_id_available_to_application_logs(capture):
    seen: list[str | None] = []
    app_logger = logging.getLogger("tests.app")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    handler.addFilter(RequestIDFilter())
    app_logger.addHandler(handler)
    app_logger.setLevel(logging.INFO)

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(get_request_id())
        app_logger.info("inside the view")
        return HttpResponse("ok")

    try:
        RequestLogMiddleware(view)(RequestFactory().get("/", HTTP_X_REQUEST_ID="req-42"))
    finally:
        app_logger.removeHandler(handler)
    assert seen == ["req-42"]
    assert records[0].request_id == "req-42"  # type: ignore[attr-defined]
    assert get_request_id() is None  # reset after the request


@pytest.mark.parametrize(
    ("traceparent", "trace_id"),
    [
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "4bf92f3577b34da6a3ce929d0e0e4736",
        ),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", None),
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", None),
        ("garbage", None),
    ],
)
def test_traceparent(capture, traceparent, trace_id):
    Client().get("/hello/", HTTP_TRACEPARENT=traceparent)
    assert capture.only().get("trace", {}).get("id") == trace_id


@pytest.mark.parametrize(
    ("trusted", "remote", "xff", "client", "peer"),
    [
        ([], "203.0.113.9", "1.2.3.4", "203.0.113.9", "203.0.113.9"),
        (["10.0.0.0/8"], "10.0.0.1", "198.51.100.7, 10.0.0.2", "198.51.100.7", "10.0.0.1"),
        (["10.0.0.0/8"], "10.0.0.1", "6.6.6.6, 198.51.100.7", "198.51.100.7", "10.0.0.1"),
        (["10.0.0.0/8"], "198.51.100.1", "6.6.6.6", "198.51.100.1", "198.51.100.1"),
        (["10.0.0.0/8"], "10.0.0.1", "not-an-ip", "10.0.0.1", "10.0.0.1"),
        (["::1/128"], "::1", "[2001:db8::1]:443", "2001:db8::1", "::1"),
    ],
)
def test_client_ip(capture, trusted, remote, xff, client, peer):
    with override_settings(REQLOG_TRUSTED_PROXIES=trusted):
        Client().get("/hello/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=xff)
        doc = capture.only()
    assert doc["client"]["ip"] == client
    assert doc["source"]["ip"] == peer
    assert doc["reqlog"]["proxy_chain"] == [*[h.strip() for h in xff.split(",")], remote]


def test_skip_paths_and_enabled(capture):
    with override_settings(REQLOG_SKIP_PATHS=[r"^/healthz$"]):
        Client().get("/healthz")
        assert capture.records == []
        Client().get("/hello/")
        assert len(capture.records) == 1
    with override_settings(REQLOG_ENABLED=False):
        response = Client().get("/hello/")
    assert len(capture.records) == 1
    assert "X-Request-ID" not in response


def test_sampling_keeps_errors_and_slow_requests(capture):
    with override_settings(REQLOG_SAMPLE_RATE=0.0):
        for _ in range(5):
            Client().get("/hello/")
        Client().get("/missing/")
        Client(raise_request_exception=False).get("/boom/")
    statuses = [d["http"]["response"]["status_code"] for d in capture.ecs_docs()]
    assert statuses == [404, 500]
    with override_settings(REQLOG_SAMPLE_RATE=0.0, REQLOG_SLOW_REQUEST_MS=1):
        RequestLogMiddleware(_slow_view)(RequestFactory().get("/slow/"))
    assert capture.ecs_docs()[-1]["reqlog"]["slow"] is True


def _slow_view(request: HttpRequest) -> HttpResponse:
    import time

    time.sleep(0.005)
    return HttpResponse("slow")


def test_query_string_masked(reqlog_events):
    Client().get("/hello/?access_token=qs-secret&page=2&Password=pw-secret")
    assert "qs-secret" not in reqlog_events.text and "pw-secret" not in reqlog_events.text
    assert reqlog_events[0]["url"]["query"] == "access_token=[REDACTED]&page=2&Password=[REDACTED]"


def test_headers_captured_and_masked(capture):
    with override_settings(REQLOG_CAPTURE_HEADERS=True):
        Client().get(
            "/hello/",
            HTTP_AUTHORIZATION="Bearer hdr-secret-token",
            HTTP_X_API_KEY="key-secret",
            HTTP_COOKIE="sessionid=cookie-secret; theme=dark",
            HTTP_X_CUSTOM="visible",
        )
    doc = capture.only()
    headers = doc["reqlog"]["request"]["headers"]
    assert headers["authorization"] == "[REDACTED]"
    assert headers["x-api-key"] == "[REDACTED]"
    assert headers["cookie"] == "[REDACTED]"
    assert headers["x-custom"] == "visible"
    line = capture.ecs_lines()[0]
    for secret in ("hdr-secret-token", "key-secret", "cookie-secret"):
        assert secret not in line


def test_response_body_capture_is_opt_in_and_masked(reqlog_events):
    Client().get("/json-secret/")
    assert "content" not in reqlog_events[0]["http"]["response"]["body"]
    with override_settings(REQLOG_CAPTURE_RESPONSE_BODY=True):
        Client().get("/json-secret/")
    body = reqlog_events[1]["http"]["response"]["body"]
    assert body["content"] == '{"token": "[REDACTED]", "ok": true}'
    assert "resp-secret-token-value" not in reqlog_events.text


def test_body_left_unread_is_still_readable_after_us():
    # An outer component reading the body after the response gets every byte.
    raw = b"0123456789" * 2000
    request = RequestFactory().post("/x/", data=raw, content_type="text/plain")
    RequestLogMiddleware(_view)(request)
    assert request.body == raw


def test_outer_middleware_read_body_first(capture):
    raw = b'{"password": "early-read"}'
    request = RequestFactory().post("/x/", data=raw, content_type="application/json")
    assert request.body == raw
    RequestLogMiddleware(_view)(request)
    doc = capture.only()
    assert doc["http"]["request"]["body"]["content"] == '{"password": "[REDACTED]"}'


def test_no_handler_enabled_means_no_work(capture):
    logging.getLogger("django_reqlog").setLevel(logging.CRITICAL)
    response = Client().get("/hello/")
    assert response.status_code == 200
    assert capture.records == []


def test_bad_host_header_does_not_break_logging(capture):
    request = RequestFactory().get("/p\r\nath/", HTTP_HOST="evil\r\nhost\x1b[31m")
    response = RequestLogMiddleware(_view)(request)
    assert response.status_code == 200
    line = capture.ecs_lines()[0]
    assert len(line.splitlines()) == 1
    assert json.loads(line)["url"]["domain"] == "evil\r\nhost\x1b[31m"


def test_file_like_upload_stream_unchanged():
    raw = io.BytesIO(b"line1\nline2\nline3")
    from django_reqlog.capture import TeeStream

    tee = TeeStream(raw, 8)
    tee.fill_prefix(None)
    assert bytes(tee.prefix) == b"line1\nli"
    assert tee.readline() == b"line1\n"
    assert tee.read(3) == b"lin"
    assert tee.read() == b"e2\nline3"


class _NoSeekNoClose:
    """A WSGI input with only read and readline, as PEP 3333 requires."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1, /) -> bytes:
        return self._data.read(size)

    def readline(self, size: int = -1, /) -> bytes:
        return self._data.readline(size)


class _Unseekable(io.BytesIO):
    def seekable(self) -> bool:
        return False


@pytest.mark.parametrize(
    ("inner", "seekable"),
    [
        pytest.param(lambda: io.BytesIO(b"abc"), True, id="seekable"),
        pytest.param(lambda: _Unseekable(b"abc"), False, id="not seekable"),
        pytest.param(lambda: _NoSeekNoClose(b"abc"), False, id="no seekable, no close"),
    ],
)
def test_tee_answers_seekable_and_close_for_its_stream(inner: Any, seekable: bool) -> None:
    """Django's request.body asks the stream both; the tee answers for the
    stream it wraps, and a stream without them is no error."""
    from django_reqlog.capture import TeeStream

    stream = inner()
    tee = TeeStream(stream, 8)
    assert tee.seekable() is seekable
    assert tee.read() == b"abc"
    tee.close()
    assert getattr(stream, "closed", True) is True


@pytest.mark.parametrize("make_input", [io.BytesIO, _NoSeekNoClose])
def test_request_body_through_the_tee_for_any_wsgi_input(capture: Any, make_input: Any) -> None:
    body = b'{"a": 1, "password": "x"}'
    request = RequestFactory().post("/echo/", data=body, content_type="application/json")
    request.META["wsgi.input"] = make_input(body)
    from django.core.handlers.wsgi import LimitedStream

    request._stream = LimitedStream(request.META["wsgi.input"], len(body))
    seen: list[bytes] = []

    def view(req: Any) -> HttpResponse:
        seen.append(req.body)
        return HttpResponse("ok")

    RequestLogMiddleware(view)(request)
    assert seen == [body]
    event = capture.only()
    assert event["http"]["request"]["body"]["content"] == '{"a": 1, "password": "[REDACTED]"}'
