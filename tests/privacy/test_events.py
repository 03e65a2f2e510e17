"""Guarantee 3: one valid event per request, whatever the input.

Each event is one line of valid UTF-8 JSON of at most 300 KiB, however hostile
the path, headers, user name or body. Header values are capped at 8 KiB, at
most 100 headers are kept, JSON nested 100,000 deep is handled without
recursion, and gzip bodies are never decompressed. Timings are printed (and
collected in FIGURES), never asserted.
"""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings
from hypothesis import given
from hypothesis import strategies as st

from django_reqlog.formatters import ECSFormatter, LogstashFormatter
from django_reqlog.masking import mask_json_text
from django_reqlog.middleware import RequestLogMiddleware
from django_reqlog.request_fields import MAX_HEADER_VALUE, MAX_HEADERS
from tests.helpers.privacy import (
    FIGURES,
    collecting,
    hsettings,
    planted_secret,
)

MAX_EVENT_BYTES = 300 * 1024


class HostileUser:
    is_authenticated = True

    def __init__(self, name: str) -> None:
        self.name = name
        self.pk = name[:10]

    def get_username(self) -> str:
        return self.name


def assert_valid_event_lines(lines: list[str]) -> list[dict[str, Any]]:
    docs = []
    for line in lines:
        assert "\n" not in line and "\r" not in line
        encoded = line.encode("utf-8")  # raises on lone surrogates
        assert len(encoded) <= MAX_EVENT_BYTES, len(encoded)
        doc = json.loads(encoded.decode("utf-8"))
        assert isinstance(doc, dict)
        docs.append(doc)
    return docs


CONTROL = st.sampled_from(
    ["\r", "\n", "\r\n", "\x00", "\x1b[31m", "\x1b]0;x\x07", "\u2028", "\ud800", "\x7f"]
)
HOSTILE = st.lists(st.text(max_size=8) | CONTROL, max_size=8).map("".join)
LATIN1 = st.text(alphabet=st.characters(max_codepoint=255), max_size=40)  # WSGI header strings


@override_settings(REQLOG_CAPTURE_HEADERS=True, REQLOG_CAPTURE_RESPONSE_BODY=True)
def test_hostile_input_still_gives_one_valid_line():
    @hsettings(1000)
    @given(
        path=HOSTILE,
        username=HOSTILE,
        headers=st.dictionaries(
            st.from_regex(r"HTTP_[A-Z][A-Z0-9_]{0,20}", fullmatch=True),
            LATIN1 | HOSTILE,
            max_size=6,
        ),
        body=st.binary(max_size=300) | HOSTILE.map(lambda t: t.encode("utf-8", "surrogatepass")),
        content_type=st.sampled_from(
            [
                "application/json",
                "text/plain",
                "application/x-www-form-urlencoded",
                "",
                "multipart/form-data; boundary=x",
                "image/png",
            ]
        ),
        response_body=st.binary(max_size=200),
        status=st.sampled_from([200, 302, 404, 500]),
    )
    def run(
        path: str,
        username: str,
        headers: dict[str, str],
        body: bytes,
        content_type: str,
        response_body: bytes,
        status: int,
    ) -> None:
        request = RequestFactory().post("/x", data=body, content_type=content_type, **headers)
        request.path = request.path_info = "/" + path
        request.META["QUERY_STRING"] = path
        request.user = HostileUser(username)  # type: ignore[assignment]

        def view(req: HttpRequest) -> HttpResponse:
            return HttpResponse(
                response_body, status=status, content_type="text/plain; charset=utf-8"
            )

        with collecting() as collector:
            RequestLogMiddleware(view)(request)
            assert len(collector.records) == 1
            docs = assert_valid_event_lines(collector.json_lines())
        FIGURES["events: hostile requests, one valid line each"] += 1
        assert docs[0]["user"]["name"] is not None

    run()


@override_settings(REQLOG_CAPTURE_HEADERS=True)
def test_header_values_and_count_are_capped():
    headers = {f"HTTP_X_H{i:03d}": ("é" * 10 + "v" * 20_000) for i in range(150)}
    headers["HTTP_X_H000"] = "\x1b[2J" + "\r\n" * 5000
    with collecting() as collector:
        RequestLogMiddleware(lambda r: HttpResponse("ok"))(RequestFactory().get("/h/", **headers))
        record = collector.records[0]
        lines = collector.json_lines()
    docs = assert_valid_event_lines(lines)
    from django_reqlog.request_fields import request_fields

    kept = request_fields(record.reqlog)["headers"]
    assert len(kept) <= MAX_HEADERS
    assert all(len(value.encode("utf-8")) <= MAX_HEADER_VALUE for value in kept.values())
    assert any(value.endswith("…") for value in kept.values())
    # The event as a whole is still bounded: the formatter trims the headers.
    assert docs[0]["http"]["request"]["method"] == "GET"


def deep(depth: int, secret: str) -> str:
    return '{"a": ' * depth + json.dumps({"password": secret}) + "}" * depth


@pytest.mark.parametrize("shape", ["objects", "arrays", "unclosed"])
def test_json_nested_100000_deep(shape):
    secret, markers = planted_secret()
    if shape == "objects":
        text = deep(100_000, secret)
    elif shape == "arrays":
        text = "[" * 100_000 + json.dumps({"token": secret}) + "]" * 100_000
    else:
        text = '{"a": [' * 50_000 + f'{{"secret": "{secret}"'
    start = time.process_time()
    masked = mask_json_text(text)
    scan = time.process_time() - start
    assert all(marker not in masked for marker in markers)
    FIGURES[f"deep json: mask_json_text on 100k levels ({shape}), worker ms"] = round(scan * 1000)

    # With the default 8 KiB capture limit, as deployed: the prefix is scanned.
    request = RequestFactory().post("/deep/", data=text.encode(), content_type="application/json")
    with collecting() as collector:
        RequestLogMiddleware(lambda r: HttpResponse("ok"))(request)
        record = collector.records[0]
        start = time.process_time()
        lines = [ECSFormatter().format(record), LogstashFormatter().format(record)]
        default = time.process_time() - start
    assert_valid_event_lines(lines)
    FIGURES[f"deep json: default 8 KiB capture, 2 formatters ({shape}), worker ms"] = round(
        default * 1000, 1
    )

    # The whole document through the middleware and both formatters, body
    # capture raised so nothing is cut before the scanner.
    request = RequestFactory().post("/deep/", data=text.encode(), content_type="application/json")
    with override_settings(REQLOG_MAX_BODY_BYTES=len(text) + 1), collecting() as collector:
        RequestLogMiddleware(lambda r: HttpResponse("ok"))(request)
        record = collector.records[0]
        start = time.process_time()
        lines = [ECSFormatter().format(record), LogstashFormatter().format(record)]
        formatting = time.process_time() - start
    docs = assert_valid_event_lines(lines)
    assert docs[0]["reqlog"]["request"]["body"]["kind"] == "json"
    assert all(marker not in line for line in lines for marker in markers)
    FIGURES[f"deep json: request_fields + 2 formatters ({shape}), worker ms"] = round(
        formatting * 1000
    )
    print(
        f"\n100k-deep JSON ({shape}, {len(text)} bytes): scan {scan * 1000:.1f} ms, formatting {formatting * 1000:.1f} ms"
    )


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [
        ("application/json", "gzip"),
        ("application/json", "GZIP"),
        ("text/plain", "gzip, identity"),
        ("application/x-www-form-urlencoded", "deflate"),
        ("application/gzip", ""),
    ],
)
def test_gzip_bodies_are_never_decompressed(content_type, encoding):
    secret, markers = planted_secret()
    body = gzip.compress(json.dumps({"password": secret, "note": secret}).encode() * 50)
    extra = {"HTTP_CONTENT_ENCODING": encoding} if encoding else {}
    request = RequestFactory().post("/gz/", data=body, content_type=content_type, **extra)
    inflated: list[int] = []

    def view(req: HttpRequest) -> HttpResponse:
        inflated.append(len(gzip.decompress(req.body)))
        return HttpResponse("ok")

    with collecting() as collector:
        RequestLogMiddleware(view)(request)
        docs = assert_valid_event_lines(collector.json_lines())
    content = docs[0]["http"]["request"]["body"]["content"]
    assert content.startswith("[binary ")
    assert f"bytes={len(body)}]" in content
    assert docs[0]["reqlog"]["request"]["body"]["kind"] == "binary"
    assert inflated and inflated[0] > len(body)  # the view still got the real bytes
    assert all(marker not in line for line in collector.json_lines() for marker in markers)


def test_huge_single_fields_keep_the_event_under_300_kib():
    """Everything at once: long path, query, user agent, 100 big headers,
    an error with a long message and a captured response body."""
    headers = {f"HTTP_X_BIG{i:03d}": "b" * 9000 for i in range(120)}
    request = RequestFactory().get(
        "/" + "p" * 50_000,
        QUERY_STRING="q=" + "x" * 50_000,
        HTTP_USER_AGENT="u" * 50_000,
        **headers,
    )

    def view(req: HttpRequest) -> HttpResponse:
        raise ValueError("m" * 200_000)

    with (
        override_settings(REQLOG_CAPTURE_HEADERS=True, REQLOG_MAX_BODY_BYTES=1024 * 1024),
        collecting() as collector,
    ):
        with pytest.raises(ValueError):
            RequestLogMiddleware(view)(request)
        docs = assert_valid_event_lines(collector.json_lines())
    assert docs[0]["http"]["response"]["status_code"] == 500
