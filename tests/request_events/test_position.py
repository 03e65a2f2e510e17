"""From the first position in MIDDLEWARE, one event per request with the
status the client got, whoever answered it, timed over the whole stack."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from tests.helpers import position_middleware

pytestmark = pytest.mark.django_db


def test_the_test_settings_put_it_first() -> None:
    assert settings.MIDDLEWARE[0] == "django_reqlog.middleware.RequestLogMiddleware"


def test_append_slash_redirect_is_logged_as_the_301(capture: Any) -> None:
    response = Client().get("/hello?x=1")
    assert response.status_code == 301
    assert response["Location"] == "/hello/?x=1"
    doc = capture.only()
    assert doc["http"]["response"]["status_code"] == 301
    assert doc["url"]["original"] == "/hello?x=1"
    assert response["X-Request-ID"] == doc["http"]["request"]["id"]


def test_csrf_rejection_is_logged_with_the_body_it_read(capture: Any) -> None:
    """CsrfViewMiddleware reads request.POST before rejecting: the body went
    through the tee all the same, and the event says 403."""
    upload = SimpleUploadedFile("a.txt", b"x" * 300, content_type="text/plain")
    response = Client(enforce_csrf_checks=True).post(
        "/hello/", data={"title": "holiday", "file": upload}
    )
    assert response.status_code == 403
    doc = capture.only()
    assert doc["http"]["response"]["status_code"] == 403
    content = json.loads(doc["http"]["request"]["body"]["content"])
    assert content == {
        "title": "holiday",
        "file": "[file filename=a.txt content_type=text/plain bytes=300]",
    }


@override_settings(ALLOWED_HOSTS=["testserver"])
def test_disallowed_host_is_logged_as_the_400(capture: Any) -> None:
    response = Client().get("/hello/", headers={"host": "evil.example"})
    assert response.status_code == 400
    doc = capture.only()
    assert doc["http"]["response"]["status_code"] == 400
    assert doc["url"]["domain"] == "evil.example"


@override_settings(SECURE_SSL_REDIRECT=True)
def test_security_middleware_redirect_is_logged(capture: Any) -> None:
    response = Client().get("/hello/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/hello/"
    doc = capture.only()
    assert doc["http"]["response"]["status_code"] == 301
    assert doc["url"]["scheme"] == "http"


def test_duration_covers_the_middleware_below_the_first(capture: Any) -> None:
    """A middleware right below the first entry takes time before and after
    the rest of the stack; the event's duration contains all of it."""
    stack = [settings.MIDDLEWARE[0], "tests.helpers.position_middleware.TimedMiddleware"]
    position_middleware.TIMINGS.clear()
    with override_settings(MIDDLEWARE=[*stack, *settings.MIDDLEWARE[1:]]):
        Client().get("/hello/")
    (timed,) = position_middleware.TIMINGS
    assert capture.only()["event"]["duration"] >= timed


def test_body_a_middleware_below_the_first_reads_is_captured(capture: Any) -> None:
    stack = [settings.MIDDLEWARE[0], "tests.helpers.position_middleware.FormReaderMiddleware"]
    upload = SimpleUploadedFile("b.bin", b"\x00" * 500, content_type="application/octet-stream")
    with override_settings(MIDDLEWARE=[*stack, *settings.MIDDLEWARE[1:]]):
        response = Client().post("/form/", data={"title": "holiday", "file": upload})
    assert response.json()["post"] == {"title": ["holiday"]}
    content = json.loads(capture.only()["http"]["request"]["body"]["content"])
    assert content == {
        "title": "holiday",
        "file": "[file filename=b.bin content_type=application/octet-stream bytes=500]",
    }
