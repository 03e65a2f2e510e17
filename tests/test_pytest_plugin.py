"""The pytest plugin, loaded as users load it: through the ``pytest11`` entry
point of the installed package, in a fresh pytest run (pytester's subprocess)
on a small project of its own."""

from __future__ import annotations

import pytest

SETTINGS = """
SECRET_KEY = "site-tests"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "site_urls"
STATIC_URL = "static/"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "django_reqlog",
]
MIDDLEWARE = ["django_reqlog.middleware.RequestLogMiddleware"]
REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": [], "UNAUTHENTICATED_USER": None}
# No LOGGING for django_reqlog: its level is the root's WARNING, as in many projects.
"""

URLS = """
from django.urls import path
import site_views

urlpatterns = [
    path("hello/", site_views.hello),
    path("async/", site_views.async_hello),
    path("items/", site_views.create_item),
    path("stream/", site_views.stream),
    path("held-stream/", site_views.held_stream),
]
"""

VIEWS = """
import asyncio, json, threading
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.decorators import api_view
from rest_framework.response import Response


def hello(request):
    return HttpResponse("hello", content_type="text/plain")


async def async_hello(request):
    await asyncio.sleep(0)
    return JsonResponse({"hello": "async"})


@api_view(["POST"])
def create_item(request):
    return Response({"id": 1, "name": request.data["name"]}, status=201)


def stream(request):
    return StreamingHttpResponse((b"chunk;" * 100 for _ in range(5)), content_type="text/plain")


release = threading.Event()


def held_stream(request):
    # Sends every byte, then holds the stream open until `release` is set.
    def chunks():
        yield b"x" * 3000
        release.wait(60)

    response = StreamingHttpResponse(chunks(), content_type="text/plain")
    response["Content-Length"] = "3000"
    return response
"""

USERS_TESTS = """
import asyncio, json, logging, socket, urllib.request

import pytest
from rest_framework.test import APIClient

import site_views

from django_reqlog.handlers import LogstashHandler

ITEM = {"name": "lamp", "password": "hunter2"}


def _created(reqlog_events):
    assert len(reqlog_events) == 1
    event = reqlog_events[-1]
    assert event["http"]["response"]["status_code"] == 201
    assert event["http"]["request"]["method"] == "POST"
    assert event["url"]["path"] == "/items/"
    assert "hunter2" not in reqlog_events.text
    assert json.loads(event["http"]["request"]["body"]["content"]) == {
        "name": "lamp",
        "password": "[REDACTED]",
    }
    assert reqlog_events.logstash[-1]["status"] == 201
    assert json.loads(reqlog_events.lines[-1]) == event


def test_test_client(client, reqlog_events):
    client.post("/items/", ITEM, content_type="application/json")
    _created(reqlog_events)


def test_api_client(reqlog_events):
    response = APIClient().post("/items/", ITEM, format="json")
    assert response.data == {"id": 1, "name": "lamp"}
    _created(reqlog_events)


def test_async_client(async_client, reqlog_events):
    response = asyncio.run(async_client.get("/async/?q=1"))
    assert response.status_code == 200
    (event,) = reqlog_events
    assert (event["url"]["path"], event["url"]["query"]) == ("/async/", "q=1")
    assert event["http"]["response"]["status_code"] == 200


def test_live_server(live_server, reqlog_events):
    with urllib.request.urlopen(live_server.url + "/hello/") as response:
        assert response.read() == b"hello"
    assert reqlog_events[-1]["http"]["response"]["body"]["bytes"] == 5
    site_views.release.clear()
    with urllib.request.urlopen(live_server.url + "/held-stream/") as response:
        body = response.read()
    # The client has every byte (Content-Length), the server has not closed the stream yet.
    assert len(reqlog_events) == 1
    site_views.release.set()
    reqlog_events.wait_for(2)  # the server thread closes the stream, then the event comes
    assert [e["url"]["path"] for e in reqlog_events] == ["/hello/", "/held-stream/"]
    assert reqlog_events[-1]["http"]["response"]["body"]["bytes"] == len(body) == 3000


def test_wait_for_gives_up(reqlog_events):
    with pytest.raises(pytest.fail.Exception, match="0 of 1 request events within 0.05s"):
        reqlog_events.wait_for(1, timeout=0.05)


def test_a_streamed_event_arrives_when_the_response_closes(client, reqlog_events):
    response = client.get("/stream/")
    assert reqlog_events == []
    body = b"".join(response.streaming_content)
    (event,) = reqlog_events
    assert event["http"]["response"]["body"]["bytes"] == len(body)


def test_each_test_starts_empty_and_sees_only_request_events(client, reqlog_events):
    assert reqlog_events == [] and reqlog_events.lines == []
    logging.getLogger("django_reqlog.shipper").warning("not a request event")
    client.get("/hello/")
    assert len(reqlog_events) == 1


def test_the_events_are_what_a_shipper_sends(client, reqlog_events):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(30)
    handler = LogstashHandler("127.0.0.1", receiver.getsockname()[1], transport="udp", spool=False)
    logger = logging.getLogger("django_reqlog")
    logger.addHandler(handler)
    try:
        client.get("/hello/?token=abc")
        shipped = json.loads(receiver.recv(65536))
    finally:
        logger.removeHandler(handler)
        handler.close()
        receiver.close()
    assert shipped == reqlog_events.logstash[-1]
"""

USERS_TEST_COUNT = 8


@pytest.fixture
def site(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A user's project: settings, URLs, views, and pytest-django pointed at them."""
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    pytester.makepyfile(site_settings=SETTINGS, site_urls=URLS, site_views=VIEWS)
    pytester.makeini("[pytest]\nDJANGO_SETTINGS_MODULE = site_settings\npythonpath = .\n")
    return pytester


def test_users_tests_see_their_requests_events(site: pytest.Pytester) -> None:
    site.makepyfile(test_site=USERS_TESTS)
    result = site.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=USERS_TEST_COUNT)
    result.stdout.fnmatch_lines(["plugins:*django-reqlog*"])  # loaded through the entry point


def test_the_plugin_can_be_turned_off(site: pytest.Pytester) -> None:
    site.makepyfile(test_site="def test_uses_it(reqlog_events):\n    pass\n")
    result = site.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:reqlog")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'reqlog_events' not found*"])


PLAIN = """
import logging, sys


def test_plugin_loaded_and_inert(request):
    assert request.config.pluginmanager.has_plugin("reqlog")
    from django.conf import settings

    assert not settings.configured
    assert sorted(m for m in sys.modules if m.startswith("django_reqlog")) == [
        "django_reqlog",
        "django_reqlog.pytest_plugin",
    ]
    logger = logging.getLogger("django_reqlog")
    assert (logger.handlers, logger.level) == ([], logging.NOTSET)


def test_fixture_leaves_the_logger_as_it_found_it(reqlog_events):
    logger = logging.getLogger("django_reqlog")
    assert logger.level == logging.INFO and len(logger.handlers) == 1


def test_after_the_fixture(request):
    logger = logging.getLogger("django_reqlog")
    assert (logger.handlers, logger.level) == ([], logging.NOTSET)
"""


def test_loading_the_plugin_configures_nothing(pytester: pytest.Pytester, monkeypatch) -> None:
    """No Django settings at all: the plugin must not need or touch them, and
    attaches nothing unless a test asks for the fixture."""
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    pytester.makepyfile(test_plain=PLAIN)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=3)
