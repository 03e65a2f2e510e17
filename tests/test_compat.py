"""django_reqlog.compat against the installed Django's real objects.

These run on every supported Django (``make test`` on 5.2, ``make
test-dj42`` on 4.2): a release that renames one of the private attributes
fails here, by name, instead of silently losing a fact.
"""

from __future__ import annotations

import django
import pytest
from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.wsgi import LimitedStream, WSGIRequest
from django.http import StreamingHttpResponse
from django.test import AsyncRequestFactory, RequestFactory
from django.utils.functional import SimpleLazyObject

from django_reqlog import compat
from django_reqlog.middleware import _body_if_read


def test_supported_django() -> None:
    assert django.VERSION[:2] in {(4, 2), (5, 2)}


def test_evaluated_never_evaluates() -> None:
    calls: list[int] = []

    def load() -> str:
        calls.append(1)
        return "the user"

    lazy = SimpleLazyObject(load)
    assert compat.evaluated(lazy) is None
    assert calls == []
    assert str(lazy) == "the user"  # the application reads it
    assert compat.evaluated(lazy) == "the user"
    assert calls == [1]


def test_evaluated_passes_plain_values_through() -> None:
    marker = object()
    assert compat.evaluated(marker) is marker
    assert compat.evaluated(None) is None


def _wsgi_post(body: bytes = b"a=1&b=2") -> WSGIRequest:
    request = RequestFactory().post(
        "/", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert isinstance(request, WSGIRequest)
    return request


def _asgi_post(body: bytes = b"a=1&b=2") -> ASGIRequest:
    request = AsyncRequestFactory().post(
        "/", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert isinstance(request, ASGIRequest)
    return request


@pytest.mark.parametrize("make", [_wsgi_post, _asgi_post], ids=["wsgi", "asgi"])
def test_request_stream_is_what_request_reads_from(make: object) -> None:
    request = make()  # type: ignore[operator]
    stream = compat.request_stream(request)
    assert stream is not None
    assert compat.read_started(request) is False

    class Spy:
        def __init__(self, inner: object) -> None:
            self.inner = inner
            self.reads = 0

        def read(self, *args: object) -> bytes:
            self.reads += 1
            return self.inner.read(*args)  # type: ignore[attr-defined,no-any-return]

        def readline(self, *args: object) -> bytes:
            return self.inner.readline(*args)  # type: ignore[attr-defined,no-any-return]

        def close(self) -> None:
            pass

    spy = Spy(stream)
    compat.set_request_stream(request, spy)
    assert request.read(3) == b"a=1"
    assert spy.reads == 1  # request.read() went through the replacement
    assert compat.read_started(request) is True


def test_wsgi_stream_is_bounded_by_content_length() -> None:
    assert isinstance(compat.request_stream(_wsgi_post()), LimitedStream)


@pytest.mark.parametrize("make", [_wsgi_post, _asgi_post], ids=["wsgi", "asgi"])
def test_a_read_body_is_known_without_reading_it(make: object) -> None:
    """The public route the middleware takes instead of ``HttpRequest._body``:
    ``request.body`` is asked only once the stream was read, and then it
    returns what it kept, or raises, without reading."""
    request = make()  # type: ignore[operator]
    assert _body_if_read(request) is None
    assert compat.read_started(request) is False  # asking read nothing
    assert request.body == b"a=1&b=2"
    assert _body_if_read(request) == b"a=1&b=2"


@pytest.mark.parametrize("make", [_wsgi_post, _asgi_post], ids=["wsgi", "asgi"])
def test_a_body_read_as_a_stream_is_not_read_again(make: object) -> None:
    request = make()  # type: ignore[operator]
    assert request.read(3) == b"a=1"
    assert _body_if_read(request) is None  # request.body raised, and read nothing
    assert request.read() == b"&b=2"


@pytest.mark.django_db  # close() sends request_finished, which tidies connections
def test_on_close_runs_when_the_server_closes() -> None:
    closed: list[str] = []
    response = StreamingHttpResponse(iter([b"a", b"b"]))
    assert compat.on_close(response, lambda: closed.append("closed")) is True
    assert b"".join(response.streaming_content) == b"ab"  # type: ignore[arg-type]
    assert closed == []
    response.close()
    assert closed == ["closed"]
