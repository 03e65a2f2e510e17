"""The fast paths of be2bfcf against the slow paths they stand in for.

Plain query strings are masked without re-encoding, an anonymous lazy user
is not loaded, and ECS fields are placed by hand. Each must give what the
general path gives. (The JSON fast path is gone: one walk masks every JSON
body, and its cases moved to tests/test_core_masking.py.)
"""

from __future__ import annotations

import asyncio
import json
import re
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, RequestFactory, override_settings
from django.utils.functional import SimpleLazyObject, empty
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from django_reqlog import middleware as reqlog_middleware
from django_reqlog.event import _PLAIN_QUERY, _cap, _mask_plain_query, _mask_query
from django_reqlog.formatters import ECSFormatter
from django_reqlog.masking import mask_pairs
from django_reqlog.middleware import RequestLogMiddleware, _certainly_anonymous
from tests.test_core_formatters import _facts, _record

CARD = "4111111111111111"
FAST = hsettings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)

# -- Query strings -------------------------------------------------------------

QUERY_TOKENS = [
    "a",
    "=",
    "&",
    "[",
    "]",
    "/",
    ":",
    ",",
    ".",
    "-",
    "_",
    "~",
    "token",
    "password",
    "4111111111111111",
    "4111-1111-1111-1111",
    "eyJabcdef.ghijklm.nop",
    "Bearer",
    "api_key",
    "pin",
    "x1",
]
plain_queries = st.lists(st.sampled_from(QUERY_TOKENS), max_size=14).map("".join)


def _general_query(query_string: str) -> str:
    """The re-encoding path every query took before be2bfcf."""
    query_string = query_string[: 8 * 1024 * 2]
    pairs = parse_qsl(query_string, keep_blank_values=True)
    return _cap(urlencode(mask_pairs(pairs), safe="[]/:,", errors="backslashreplace"))


@FAST
@given(plain_queries)
def test_plain_query_fast_path_equals_general_path(query):
    assert _PLAIN_QUERY.fullmatch(query)
    assert _mask_query(query) == _general_query(query)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a=1&b=two", "a=1&b=two"),
        (
            "a=1&token=abc&pin=1234&q=4111-1111-1111-1111",
            "a=1&token=[REDACTED]&pin=[REDACTED]&q=[REDACTED]",
        ),
        ("user[password]=x&next=/home/", "user[password]=[REDACTED]&next=/home/"),
        ("jwt_in=xeyJabcdef.ghijklm.nop", "jwt_in=x[REDACTED]"),
        ("a=token:abcdefgh", "a=token:[REDACTED]"),
        ("flag&&x=", "flag=&x="),
        ("=", "="),
        ("a=b=c", "a=b%3Dc"),  # "=" in a value: the fast path declines, general encodes
        ("a=[4111111111111111]", "a=[%22[REDACTED]%22]"),
    ],
)
def test_plain_query_exact_output(query, expected):
    assert _mask_query(query) == expected
    assert _general_query(query) == expected


@pytest.mark.parametrize("query", ["&", "&&&"])
def test_query_of_only_separators_is_dropped(query):
    assert _mask_plain_query(query) == ""
    assert _mask_query(query) == ""


@pytest.mark.parametrize("query", ["a=" + "b" * 9000, "k=" + "1-" * 9000, "token=" + "x" * 20000])
def test_long_plain_query_is_cut_like_the_general_path(query):
    masked = _mask_query(query)
    assert masked == _general_query(query)
    assert len(masked) <= 8 * 1024 + 1


@override_settings(REQLOG_SENSITIVE_VALUE_PATTERNS=[r"ACME-\d{4}"])
def test_plain_query_applies_extra_value_patterns_to_short_values():
    assert _general_query("ref=ACME-1234") == "ref=[REDACTED]"
    assert _mask_query("ref=ACME-1234") == "ref=[REDACTED]"


# -- Anonymous users are not loaded -------------------------------------------


def _quiet_view(request: HttpRequest) -> HttpResponse:
    """Touches neither request.user nor request.session."""
    return HttpResponse("ok", content_type="text/plain")


async def _quiet_async_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def _stack(view: Any, auth: Any = AuthenticationMiddleware) -> Any:
    return SessionMiddleware(auth(RequestLogMiddleware(view)))


def _session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _assert_user_untouched(request: HttpRequest, response: HttpResponse) -> None:
    assert request.user._wrapped is empty  # type: ignore[attr-defined]
    assert not hasattr(request.session, "_session_cache")  # the session was not loaded
    assert "Cookie" not in response.get("Vary", "")


def test_session_key_constant_matches_django():
    assert reqlog_middleware._SESSION_KEY == SESSION_KEY


@pytest.mark.django_db
def test_anonymous_client_request_leaves_lazy_user_unloaded(capture):
    response = Client().get("/hello/")
    assert response.status_code == 200
    assert "user" not in capture.only()
    _assert_user_untouched(response.wsgi_request, response)


def test_anonymous_direct_request_leaves_lazy_user_unloaded(capture):
    request = RequestFactory().get("/direct/")
    response = _stack(_quiet_view)(request)
    assert response.content == b"ok"
    assert "user" not in capture.only()
    _assert_user_untouched(request, response)


def test_anonymous_direct_async_request_leaves_lazy_user_unloaded(capture):
    request = RequestFactory().get("/direct-async/")
    response = asyncio.run(_stack(_quiet_async_view)(request))
    assert response.content == b"ok"
    assert "user" not in capture.only()
    _assert_user_untouched(request, response)


def test_anonymous_async_client_request_leaves_lazy_user_unloaded(capture):
    response = asyncio.run(AsyncClient().get("/async/"))
    assert response.status_code == 200
    assert "user" not in capture.only()
    _assert_user_untouched(response.asgi_request, response)


@pytest.mark.django_db
def test_logged_in_client_user_captured_without_view_reading_it(capture):
    user = User.objects.create_user("fastpath", password="pw")
    client = Client()
    client.force_login(user)
    response = client.get("/hello/")
    assert capture.only()["user"] == {"id": str(user.pk), "name": "fastpath"}
    assert "Cookie" not in response.get("Vary", "")


@pytest.mark.django_db
def test_logged_in_direct_user_captured_without_view_reading_it(capture):
    user = User.objects.create_user("direct", password="pw")
    request = RequestFactory().get("/direct/")
    request.COOKIES[settings.SESSION_COOKIE_NAME] = _session_cookie(user)
    response = _stack(_quiet_view)(request)
    assert capture.only()["user"] == {"id": str(user.pk), "name": "direct"}
    assert request.user._wrapped is not empty  # type: ignore[attr-defined]
    assert "Cookie" not in response.get("Vary", "")


@pytest.mark.django_db(transaction=True)
def test_logged_in_async_client_user_captured_without_view_reading_it(capture):
    user = User.objects.create_user("asyncfast", password="pw")
    client = AsyncClient()
    client.cookies[settings.SESSION_COOKIE_NAME] = _session_cookie(user)
    response = asyncio.run(client.get("/async/"))
    assert response.status_code == 200
    assert capture.only()["user"] == {"id": str(user.pk), "name": "asyncfast"}


class LookalikeAuthMiddleware(AuthenticationMiddleware):
    """Its lambda's qualname ends like Django's, but it is not Django's: the
    user comes from a header, with no session cookie at all."""

    def process_request(self, request: HttpRequest) -> None:
        request.user = SimpleLazyObject(lambda: _user_from_header(request))


def _user_from_header(request: HttpRequest) -> Any:
    return User.objects.get(username=request.headers["X-Test-User"])


class _Calls:
    def __init__(self) -> None:
        self.count = 0

    def load(self, request: HttpRequest) -> Any:
        self.count += 1
        return _user_from_header(request)


def _custom_lazy_user(setup: Any) -> Any:
    class CustomLazyUser:
        def __init__(self, get_response: Any) -> None:
            self.get_response = get_response

        def __call__(self, request: HttpRequest) -> Any:
            request.user = SimpleLazyObject(partial(setup, request))
            return self.get_response(request)

    return CustomLazyUser


@pytest.mark.django_db
def test_custom_setup_function_is_still_resolved(capture):
    user = User.objects.create_user("custom", password="pw")
    calls = _Calls()
    request = RequestFactory().get("/direct/", HTTP_X_TEST_USER="custom")
    _stack(_quiet_view, auth=_custom_lazy_user(calls.load))(request)
    assert calls.count == 1
    assert capture.only()["user"] == {"id": str(user.pk), "name": "custom"}


@pytest.mark.django_db
def test_lookalike_lambda_from_another_module_is_still_resolved(capture):
    user = User.objects.create_user("lookalike", password="pw")
    request = RequestFactory().get("/direct/", HTTP_X_TEST_USER="lookalike")
    _stack(_quiet_view, auth=LookalikeAuthMiddleware)(request)
    setup = request.user._setupfunc  # type: ignore[attr-defined]
    assert setup.__qualname__.endswith("process_request.<locals>.<lambda>")
    assert capture.only()["user"] == {"id": str(user.pk), "name": "lookalike"}


@pytest.mark.django_db
@override_settings(
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "tests.test_core_fast_paths.LookalikeAuthMiddleware",
        "django_reqlog.middleware.RequestLogMiddleware",
    ]
)
def test_custom_lazy_user_resolved_through_the_client(capture):
    user = User.objects.create_user("viaclient", password="pw")
    response = Client().get("/hello/", HTTP_X_TEST_USER="viaclient")
    assert response.status_code == 200
    assert capture.only()["user"] == {"id": str(user.pk), "name": "viaclient"}


def _django_lazy_request(session: SessionStore) -> HttpRequest:
    request = RequestFactory().get("/")
    request.session = session
    AuthenticationMiddleware(_quiet_view).process_request(request)
    return request


def _lazy(user: Any) -> dict[str, Any]:
    """A lazy object's own attributes, as the middleware reads them."""
    return object.__getattribute__(user, "__dict__")  # type: ignore[no-any-return]


def _session_with(**values: Any) -> SessionStore:
    session = SessionStore()
    for key, value in values.items():
        session[key] = value
    return session


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("session", "anonymous"),
    [
        (SessionStore, True),  # no cookie, nothing loaded
        (partial(_session_with, theme="dark"), True),  # loaded, no login in it
        (partial(_session_with, **{SESSION_KEY: "1"}), False),  # a login not saved yet
        (partial(SessionStore, "a" * 32), False),  # a cookie: only loading tells
    ],
)
def test_certainly_anonymous_only_without_key_and_login(session, anonymous):
    request = _django_lazy_request(session())
    assert _certainly_anonymous(request, _lazy(request.user)) is anonymous
    assert request.user._wrapped is empty  # the check itself loads nothing


@pytest.mark.parametrize(
    "setup",
    [lambda: None, partial(lambda: None), User],
    ids=["lambda", "partial", "class"],
)
def test_certainly_anonymous_never_for_other_setup_functions(setup):
    request = RequestFactory().get("/")
    request.session = SessionStore()
    assert _certainly_anonymous(request, _lazy(SimpleLazyObject(setup))) is False


def test_certainly_anonymous_is_false_without_a_session():
    request = RequestFactory().get("/")
    request.session = SessionStore()
    AuthenticationMiddleware(_quiet_view).process_request(request)
    del request.session
    assert _certainly_anonymous(request, _lazy(request.user)) is False


# -- ECS: no empty objects ----------------------------------------------------


def _empty_objects(node: Any, path: str = "") -> list[str]:
    found = []
    if isinstance(node, dict):
        if not node:
            found.append(path)
        for key, value in node.items():
            found.extend(_empty_objects(value, f"{path}.{key}" if path else key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_empty_objects(value, f"{path}[{index}]"))
    return found


GET_NO_BODY: dict[str, Any] = {
    "method": "GET",
    "query_string": "",
    "content_type": "",
    "content_length": None,
    "body_prefix": None,
    "body_bytes": None,
}


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"response_bytes": None, "response_content_type": ""},
        {"user_id": None, "username": None, "route": None, "view": None, "user_agent": ""},
        {"remote_addr": "", "host": "", "http_version": "", "status": 503},
        {"response_body_prefix": b"", "response_bytes": 0},
        {"headers": []},
    ],
)
def test_ecs_get_without_body_has_no_empty_objects(overrides):
    doc = ECSFormatter().format_to_dict(_record(_facts(**GET_NO_BODY, **overrides)))
    assert _empty_objects(doc) == []
    assert "body" not in doc["http"]["request"]


def test_ecs_get_without_body_exact_http_section():
    doc = ECSFormatter().format_to_dict(
        _record(_facts(**GET_NO_BODY, response_bytes=None, response_content_type=""))
    )
    assert json.dumps(doc["http"]) == json.dumps(
        {
            "version": "1.1",
            "request": {"id": "req-1", "method": "GET"},
            "response": {"status_code": 200},
        }
    )


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/hello/", "/missing/", "/no-such-url/"])
def test_ecs_client_get_has_no_empty_objects(capture, url):
    Client().get(url)
    doc = capture.only()
    assert _empty_objects(doc) == []
    assert "body" not in doc["http"]["request"]


def test_ecs_request_with_body_keeps_content_and_bytes():
    doc = ECSFormatter().format_to_dict(_record(_facts()))
    assert doc["http"]["request"]["body"] == {
        "content": '{"username": "alice", "password": "[REDACTED]"}',
        "bytes": 44,
    }
    assert _empty_objects(doc) == []


def test_ecs_request_with_empty_body_keeps_zero_bytes():
    doc = ECSFormatter().format_to_dict(
        _record(_facts(method="POST", body_prefix=b"", body_bytes=0, content_length=0))
    )
    assert doc["http"]["request"]["body"] == {"content": "", "bytes": 0}


def test_ecs_card_number_never_in_formatted_plain_json_body():
    body = b'{"n": 4111111111111111, "ok": [1, 2]}'
    line = ECSFormatter().format(_record(_facts(body_prefix=body, body_bytes=len(body))))
    assert CARD not in line
    assert json.loads(json.loads(line)["http"]["request"]["body"]["content"]) == {
        "n": "[REDACTED]",
        "ok": [1, 2],
    }
    assert re.search(r"\d{13}", line) is None
