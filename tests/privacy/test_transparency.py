"""Guarantee 2: the application sees and sends exactly what it would without us.

Every generated request is sent twice through the Django test client, once
with the full middleware stack including RequestLogMiddleware (logging
enabled, request and response body capture and header capture on) and once
with RequestLogMiddleware removed. The views (tests/helpers/privacy_views.py) report
what they read of the request in their response, in the order the ``mode``
parameter asks for, so comparing status, headers (except X-Request-ID) and
the sha256 of the response bytes compares what the application saw too.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.test.client import encode_multipart
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.privacy import (
    FIGURES,
    collecting,
    examples,
    hsettings,
)

pytestmark = pytest.mark.django_db

OURS = "django_reqlog.middleware.RequestLogMiddleware"
BOUNDARY = "reqlogTransparencyBoundary"
TARGETS = [
    "/echo/?mode=body",
    "/echo/?mode=post",
    "/echo/?mode=stream",
    "/echo/?mode=lines",
    "/echo/?mode=partial",
    "/echo/?mode=ignore",
    "/stream/?mode=body&chunks=4",
    "/stream/?mode=post",
    "/file/?mode=partial&size=70000",
    "/file/?mode=ignore&disk=1&size=300000",
    "/raise/?mode=body",
    "/raise/?mode=post",
    "/gzip/",
    "/drf/",
    "/raw/?ct=text/plain",
    "/reflect/",
    "/no-such-page/",
]
METHODS = ["GET", "POST", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
KINDS = ["empty", "json", "form", "multipart", "binary", "invalid-utf8", "gzip", "text", "no-type"]


@contextmanager
def clients() -> Iterator[tuple[Client, Client]]:
    """(with our middleware, without it), both routed to tests/helpers/privacy_urls.py."""
    without = [m for m in settings.MIDDLEWARE if m != OURS]
    assert len(without) == len(settings.MIDDLEWARE) - 1
    with override_settings(
        ROOT_URLCONF="tests.helpers.privacy_urls",
        REQLOG_CAPTURE_RESPONSE_BODY=True,
        REQLOG_CAPTURE_HEADERS=True,
    ):
        ours = Client()
        ours.get("/echo/")  # builds the handler's middleware chain now
        with override_settings(MIDDLEWARE=without):
            plain = Client()
            plain.get("/echo/")
        yield ours, plain


def make_body(kind: str, size: int, seed: int) -> tuple[bytes, str | None, dict[str, str]]:
    """(body, content type, extra META) for a body of about ``size`` bytes."""
    rng = random.Random(seed)
    if kind == "empty":
        return b"", None, {}
    if kind == "json":
        doc = {"password": "pw", "items": [rng.randint(0, 9) for _ in range(5)], "pad": ""}
        doc["pad"] = "x" * max(0, size - len(json.dumps(doc)))
        return (
            json.dumps(doc).encode(),
            rng.choice(["application/json", "application/vnd.api+json"]),
            {},
        )
    if kind == "form":
        pairs = [f"k{i}=v{rng.randint(0, 10**6)}" for i in range(5)] + ["password=secret"]
        body = "&".join(pairs) + "&pad=" + "y" * max(0, size - 80)
        return body.encode(), "application/x-www-form-urlencoded", {}
    if kind == "multipart":
        data: dict[str, Any] = {"title": "t", "password": "p", "many": ["1", "2"]}
        for index in range(rng.randint(0, 2)):
            data[f"file{index}"] = SimpleUploadedFile(
                f"f{index}.bin",
                rng.randbytes(size // 2 + 1),
                content_type=rng.choice(["image/png", "application/octet-stream", "text/plain"]),
            )
        return encode_multipart(BOUNDARY, data), f"multipart/form-data; boundary={BOUNDARY}", {}
    if kind == "binary":
        return rng.randbytes(size), "application/octet-stream", {}
    if kind == "invalid-utf8":
        raw = bytes(rng.choice([0xFF, 0xFE, 0xC3, 0x80, 0x61, 0x3D, 0x26]) for _ in range(size))
        return (
            raw,
            rng.choice(["text/plain", "application/x-www-form-urlencoded", "application/json"]),
            {},
        )
    if kind == "gzip":
        inner = json.dumps({"v": "z" * size}).encode()
        return gzip.compress(inner), "application/json", {"HTTP_CONTENT_ENCODING": "gzip"}
    if kind == "text":
        return ("line\n" * (size // 5 + 1))[:size].encode(), "text/plain; charset=utf-8", {}
    return rng.randbytes(size), "", {}  # a body with no content type at all


HEADER_SETS: list[dict[str, str]] = [
    {},
    {"HTTP_X_REQUEST_ID": "client-chosen-id-1"},
    {"HTTP_X_REQUEST_ID": "bad id\r\n"},
    {"HTTP_AUTHORIZATION": "Bearer abcdefghijklmnop", "HTTP_COOKIE": "sessionid=abc; theme=x"},
    {"HTTP_X_FORWARDED_FOR": "1.2.3.4, 10.0.0.1", "HTTP_USER_AGENT": "fuzz/1.0 \x1b[31m"},
    {"HTTP_ACCEPT_ENCODING": "gzip", "HTTP_ACCEPT": "*/*", "HTTP_REFERER": "/x?token=y"},
    {"HTTP_TRACEPARENT": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
]


def send(
    client: Client,
    method: str,
    path: str,
    body: bytes,
    content_type: str | None,
    extra: dict[str, str],
) -> tuple[Any, ...]:
    """What the client received: status, headers, sha256 of every byte, or the exception."""
    kwargs: dict[str, Any] = dict(extra)
    if content_type is not None:
        kwargs["content_type"] = content_type
    try:
        response = client.generic(method, path, data=body, **kwargs)
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc))
    if response.streaming:
        content = b"".join(response.streaming_content)
        response.close()
    else:
        content = response.content
    headers = sorted((k.lower(), v) for k, v in response.items() if k.lower() != "x-request-id")
    return (response.status_code, headers, hashlib.sha256(content).hexdigest(), len(content))


def compare(
    ours: Client,
    plain: Client,
    collector: Any,
    method: str,
    path: str,
    body: bytes,
    content_type: str | None,
    extra: dict[str, str],
) -> None:
    collector.clear()
    with_us = send(ours, method, path, body, content_type, extra)
    events = len(collector.records)
    lines = collector.json_lines()
    without_us = send(plain, method, path, body, content_type, extra)
    FIGURES["transparency: request pairs"] += 1
    for zero in (
        "mismatches",
        "exceptions caused by the middleware",
        "requests without exactly one valid event",
    ):
        FIGURES[f"transparency: {zero}"] += 0  # printed even when it stays zero
    if with_us != without_us:
        FIGURES["transparency: mismatches"] += 1
        if with_us[0] == "raised" and without_us[0] != "raised":
            FIGURES["transparency: exceptions caused by the middleware"] += 1
    if events != 1 or not all(json.loads(line) for line in lines):
        FIGURES["transparency: requests without exactly one valid event"] += 1
    assert with_us == without_us, (method, path, content_type, len(body))
    assert events == 1


@st.composite
def request_specs(draw: st.DrawFn) -> tuple[str, str, str, int, int, dict[str, str]]:
    method = draw(st.sampled_from(METHODS))
    path = draw(st.sampled_from(TARGETS))
    kind = draw(st.sampled_from(KINDS))
    band = draw(st.integers(0, 99))
    if band < 10:
        size = 0
    elif band < 55:
        size = draw(st.integers(1, 1024))
    elif band < 85:
        size = draw(st.integers(1025, 64 * 1024))
    elif band < 97:
        size = draw(st.integers(64 * 1024, 1024 * 1024))
    else:
        size = draw(st.integers(1024 * 1024, 3 * 1024 * 1024))  # crosses Django's 2.5 MB limit
    extra = dict(draw(st.sampled_from(HEADER_SETS)))
    return method, path, kind, size, draw(st.integers(0, 2**32)), extra


def test_generated_requests_see_and_send_the_same():
    target = 5_000

    @hsettings(target)
    @given(spec=request_specs(), lie=st.integers(0, 19))
    def run(spec: tuple[str, str, str, int, int, dict[str, str]], lie: int) -> None:
        method, path, kind, size, seed, extra = spec
        body, content_type, more = make_body(kind, size, seed)
        extra = {**extra, **more}
        if lie == 0 and body:
            # A Content-Length shorter than the body: Django reads only that much.
            extra["CONTENT_LENGTH"] = str(len(body) // 2)
        compare(ours, plain, collector, method, path, body, content_type, extra)

    before = FIGURES["transparency: request pairs"]
    with clients() as (ours, plain), collecting() as collector:
        run()
    assert FIGURES["transparency: request pairs"] - before >= examples(target)
    assert FIGURES["transparency: mismatches"] == 0
    assert FIGURES["transparency: exceptions caused by the middleware"] == 0


@pytest.mark.parametrize(
    ("path", "kind", "megabytes"),
    [
        ("/echo/?mode=ignore", "binary", 20),
        ("/echo/?mode=stream", "binary", 20),
        ("/echo/?mode=post", "multipart", 20),
        ("/drf/", "multipart", 10),
        ("/echo/?mode=body", "json", 5),
        ("/stream/?mode=stream", "text", 8),
    ],
)
def test_large_uploads_see_and_send_the_same(path, kind, megabytes):
    body, content_type, extra = make_body(kind, megabytes * 1024 * 1024, megabytes)
    with (
        clients() as (ours, plain),
        collecting() as collector,
        override_settings(
            DATA_UPLOAD_MAX_MEMORY_SIZE=None, FILE_UPLOAD_MAX_MEMORY_SIZE=1024 * 1024
        ),
    ):
        compare(ours, plain, collector, "POST", path, body, content_type, extra)
        doc = json.loads(collector.json_lines()[0])
    assert doc["http"]["request"]["body"]["bytes"] == len(body)
    assert doc["reqlog"]["request"]["body"]["truncated"] is True


def test_resolving_the_user_does_not_add_vary_cookie():
    """Found by the generated suite: evaluating request.user for the event marked
    the session accessed, so SessionMiddleware added "Vary: Cookie"."""
    with clients() as (ours, plain), collecting() as collector:
        with_us = send(ours, "GET", "/echo/?mode=ignore", b"", None, {})
        without_us = send(plain, "GET", "/echo/?mode=ignore", b"", None, {})
    assert with_us == without_us
    assert "vary" not in dict(with_us[1])
    assert len(collector.records) == 1


@pytest.mark.parametrize("limit", [5, 8, 64, 1000])
@pytest.mark.parametrize("sizes", [[-1], [3, -1], [100, 2, -1], [1, 1, 1, 1, 1, 1, 1, 1, 1, -1]])
def test_stream_after_prefix_capture_reads_line_for_line(limit, sizes):
    """After the middleware pulled a prefix in and pushed it back, an outer
    reader's readline()/read() calls return exactly what they would have."""
    import io

    from django_reqlog.capture import TeeStream

    raw = b"first line\nsecond much longer line here\n\nx" + b"y" * 50 + b"\nlast"
    tee = TeeStream(io.BytesIO(raw), limit)
    tee.fill_prefix(len(raw))
    reference = io.BytesIO(raw)
    for size in sizes:
        assert tee.readline(size) == reference.readline(size)
    assert tee.read() == reference.read()
    assert bytes(tee.prefix) == raw[:limit]
