"""The user an event names: only what the application itself resolved.

The middleware never evaluates a lazy ``request.user``, never loads a
session and never queries the database. Every request kind below runs the
same queries with and without it, under WSGI and ASGI, and still names the
user wherever the application knew who it was (DRF's authenticated user, a
login, a logout).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import User
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils.functional import empty
from rest_framework.authtoken.models import Token

from django_reqlog.middleware import RequestLogMiddleware

pytestmark = pytest.mark.django_db

OURS = "django_reqlog.middleware.RequestLogMiddleware"
LAZY_HEADER_USER = "tests.helpers.auth_middleware.LazyHeaderUserMiddleware"


@pytest.fixture
def alice() -> User:
    return User.objects.create_user("alice", password="pw")


@dataclass(frozen=True)
class Case:
    """One kind of request, as a client of the application sends it."""

    name: str
    method: str
    path: str
    status: int
    user: str | None  # who the event must name
    data: dict[str, str] = field(default_factory=dict)
    session: bool = False  # the client carries alice's session cookie
    token: bool = False  # DRF token authentication
    header_user: bool = False  # a lazy user from LazyHeaderUserMiddleware
    stream: bool = False

    def middleware(self, with_us: bool) -> list[str]:
        stack = list(settings.MIDDLEWARE)
        if self.header_user:
            stack.append(LAZY_HEADER_USER)
        return stack if with_us else [m for m in stack if m != OURS]


CASES = [
    Case("session cookie, user unread", "get", "/hello/", 200, None, session=True),
    Case("lazy user never read", "get", "/hello/", 200, None, header_user=True),
    Case("DRF token", "get", "/api/echo/", 200, "alice", token=True),
    Case(
        "login",
        "post",
        "/accounts/login/",
        302,
        "alice",
        data={"username": "alice", "password": "pw"},
    ),
    Case(
        "login restoring the previous user",
        "post",
        "/app/login/",
        200,
        "alice",
        data={"username": "alice", "password": "pw"},
    ),
    Case("logout", "post", "/accounts/logout/", 302, "alice", session=True),
    Case("404", "get", "/no-such-url/", 404, None, session=True),
    Case("429", "get", "/limited/", 429, None, session=True),
    Case("streaming", "get", "/stream/", 200, None, session=True, stream=True),
]
ASYNC_PATHS = {"/stream/": "/async-stream/"}  # a sync iterator would be consumed by Django


def _client_kwargs(case: Case, alice: User) -> dict[str, Any]:
    headers: dict[str, str] = {}
    if case.token:
        headers["Authorization"] = f"Token {Token.objects.get_or_create(user=alice)[0].key}"
    if case.header_user:
        headers["X-Test-User"] = alice.username
    return {"headers": headers}


_LITERALS = re.compile(r"'[^']*'|\"s\d+_x\d+\"")  # values, and savepoint names


def _shapes(queries: CaptureQueriesContext) -> list[str]:
    """The queries run, with their literal values (session keys, times) left out."""
    return [_LITERALS.sub("?", q["sql"]) for q in queries.captured_queries]


def _run_sync(case: Case, alice: User) -> tuple[int, list[str]]:
    client = Client()
    if case.session:
        client.force_login(alice)
    kwargs = _client_kwargs(case, alice)
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, case.method)(case.path, data=case.data, **kwargs)
        if case.stream:
            b"".join(response.streaming_content)
            response.close()
    return response.status_code, _shapes(queries)


def _run_async(case: Case, alice: User) -> tuple[int, list[str]]:
    client = AsyncClient()
    if case.session:
        client.force_login(alice)
    kwargs = _client_kwargs(case, alice)
    path = ASYNC_PATHS.get(case.path, case.path)

    async def send() -> int:
        response = await getattr(client, case.method)(path, data=case.data, **kwargs)
        if case.stream:
            [chunk async for chunk in response.streaming_content]
        return int(response.status_code)

    # async_to_sync from this thread: Django's sync parts (views, sessions,
    # the ORM) run back on this thread, where the query capture looks.
    with CaptureQueriesContext(connection) as queries:
        status = async_to_sync(send)()
    return status, _shapes(queries)


RUNNERS: dict[str, Callable[[Case, User], tuple[int, list[str]]]] = {
    "sync": _run_sync,
    "async": _run_async,
}


@pytest.mark.parametrize("mode", sorted(RUNNERS))
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_queries_with_and_without_the_middleware(
    capture: Any, alice: User, case: Case, mode: str
) -> None:
    run = RUNNERS[mode]
    with override_settings(MIDDLEWARE=case.middleware(with_us=False)):
        status_without, without = run(case, alice)
    assert capture.records == []
    with override_settings(MIDDLEWARE=case.middleware(with_us=True)):
        status_with, with_us = run(case, alice)
    assert status_with == status_without == case.status
    assert with_us == without
    doc = capture.only()
    assert doc.get("user", {}).get("name") == case.user
    if case.user is not None:
        assert doc["user"]["id"] == str(alice.pk)


def test_concurrent_async_requests_keep_their_own_login(capture: Any, alice: User) -> None:
    """A login in one request never names another request running alongside it."""

    async def both() -> None:
        login = AsyncClient().post("/app/login/", data={"username": "alice", "password": "pw"})
        other = AsyncClient().get("/async/")
        await asyncio.gather(login, other)

    async_to_sync(both)()
    users = {d["url"]["path"]: d.get("user", {}).get("name") for d in capture.ecs_docs()}
    assert users == {"/app/login/": "alice", "/async/": None}


def _quiet_view(request: HttpRequest) -> HttpResponse:
    """Touches neither request.user nor request.session."""
    return HttpResponse("ok", content_type="text/plain")


async def _quiet_async_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def _stack(view: Any) -> Any:
    return RequestLogMiddleware(SessionMiddleware(AuthenticationMiddleware(view)))


def _assert_untouched(request: HttpRequest, response: HttpResponse) -> None:
    assert request.user._wrapped is empty  # type: ignore[attr-defined]
    assert not hasattr(request.session, "_session_cache")  # the session was not loaded
    assert "Cookie" not in response.get("Vary", "")


def _with_session_cookie(request: HttpRequest, user: User) -> HttpRequest:
    client = Client()
    client.force_login(user)
    request.COOKIES[settings.SESSION_COOKIE_NAME] = client.cookies[
        settings.SESSION_COOKIE_NAME
    ].value
    return request


@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "session cookie"])
def test_lazy_user_and_session_stay_unloaded(capture: Any, alice: User, logged_in: bool) -> None:
    request = RequestFactory().get("/direct/")
    if logged_in:
        _with_session_cookie(request, alice)
    response = _stack(_quiet_view)(request)
    assert "user" not in capture.only()
    _assert_untouched(request, response)


@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "session cookie"])
def test_lazy_user_and_session_stay_unloaded_async(
    capture: Any, alice: User, logged_in: bool
) -> None:
    request = RequestFactory().get("/direct-async/")
    if logged_in:
        _with_session_cookie(request, alice)
    # Through async_to_sync, so anything sync the stack ran would run on this
    # thread, against this test's database.
    response = async_to_sync(_call)(_stack(_quiet_async_view), request)
    assert "user" not in capture.only()
    _assert_untouched(request, response)


async def _call(
    stack: Callable[[HttpRequest], Awaitable[HttpResponse]], request: HttpRequest
) -> HttpResponse:
    return await stack(request)


def test_a_user_the_view_read_is_named(capture: Any, alice: User) -> None:
    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse(request.user.get_username())

    request = _with_session_cookie(RequestFactory().get("/direct/"), alice)
    _stack(view)(request)
    assert capture.only()["user"] == {"id": str(alice.pk), "name": "alice"}
