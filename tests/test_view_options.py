"""Per-view control: ``@django_reqlog.skip`` and ``@django_reqlog.options(...)``
on function views (sync and async), class-based views (the class,
``as_view()``, ``method_decorator``) and DRF viewsets and their actions,
through the whole Django stack (tests/helpers/view_control_urls.py)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client, override_settings
from django.urls.resolvers import URLResolver

import django_reqlog
from django_reqlog import view_options
from tests.helpers import view_control_views as views

pytestmark = [pytest.mark.urls("tests.helpers.view_control_urls"), pytest.mark.django_db]


def get(path: str, client: str = "sync", **kwargs: Any) -> Any:
    if client == "async":
        return async_to_sync(AsyncClient().get)(path, **kwargs)
    return Client().get(path, **kwargs)


# -- @skip ---------------------------------------------------------------------------


@pytest.mark.parametrize("client", ["sync", "async"])
@pytest.mark.parametrize(
    "path",
    [
        "/skipped/",  # a function view
        "/async-skipped/",  # an async function view
        "/cbv/skipped-dispatch/",  # method_decorator(skip, name="dispatch")
        "/cbv/as-view-skipped/",  # skip(View.as_view())
        "/api/items/heartbeat/",  # a DRF viewset's @action
    ],
)
def test_a_skipped_view_has_no_event_and_an_untouched_response(reqlog_events, path, client):
    skipped = get(path, client)
    assert reqlog_events == []
    assert skipped.status_code == 200
    assert "X-Request-ID" not in skipped  # left exactly as the application made it
    get("/plain/", client)
    assert len(reqlog_events) == 1  # the middleware is there and logging


@pytest.mark.parametrize("client", ["sync", "async"])
def test_other_views_of_the_same_class_are_logged(reqlog_events, client):
    get("/cbv/plain/", client)  # PlainView.as_view(), unmarked
    get("/cbv/as-view-skipped/", client)  # skip(PlainView.as_view())
    get("/api/items/", client)  # the viewset whose heartbeat action is skipped
    assert [e["url"]["path"] for e in reqlog_events] == ["/cbv/plain/", "/api/items/"]


def test_a_skipped_method_of_a_class(reqlog_events):
    client = Client()
    assert client.delete("/cbv/response-body/").content == b"deleted"
    assert reqlog_events == []
    client.get("/cbv/response-body/")
    assert [e["http"]["request"]["method"] for e in reqlog_events] == ["GET"]


def test_a_skipped_view_that_raises(reqlog_events):
    with pytest.raises(RuntimeError, match="skipped view failed"):
        Client().get("/skipped-boom/")
    response = Client(raise_request_exception=False).get("/skipped-boom/")
    assert response.status_code == 500
    assert reqlog_events == []


# -- @options: bodies ---------------------------------------------------------------

PAYLOAD = {"username": "ada", "pin_hint": "blue"}


@override_settings(REQLOG_CAPTURE_REQUEST_BODY=True)
@pytest.mark.parametrize("client", ["sync", "async"])
def test_request_body_capture_off_for_one_view(reqlog_events, client):
    body = json.dumps(PAYLOAD)
    if client == "async":
        response = async_to_sync(AsyncClient().post)(
            "/no-body/", body, content_type="application/json"
        )
    else:
        response = Client().post("/no-body/", body, content_type="application/json")
    # The view read every byte.
    assert response.json() == {"sha256": hashlib.sha256(body.encode()).hexdigest()}
    Client().post("/with-body/", body, content_type="application/json")
    off, on = reqlog_events
    assert off["http"]["request"]["body"] == {"bytes": len(body)}
    assert off["reqlog"]["request"]["body"]["kind"] == "omitted"
    assert on["http"]["request"]["body"] == {"content": body, "bytes": len(body)}
    assert "blue" not in reqlog_events.lines[0]


@override_settings(REQLOG_CAPTURE_REQUEST_BODY=False)
def test_request_body_capture_on_for_one_view(reqlog_events):
    body = json.dumps(PAYLOAD)
    Client().post("/with-body/", body, content_type="application/json")
    Client().post("/no-body/", body, content_type="application/json")
    on, off = reqlog_events
    assert on["http"]["request"]["body"]["content"] == body
    assert "content" not in off["http"]["request"]["body"]


@pytest.mark.parametrize(
    ("setting", "path", "kept"),
    [(True, "/form-no-body/", False), (False, "/form-with-body/", True)],
)
def test_the_choice_is_made_before_a_middleware_reads_the_body(
    reqlog_events, setting, path, kept
):
    """CsrfViewMiddleware reads request.POST in its process_view, after
    Django resolved the view and before the view runs: the view's choice
    already holds there."""
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = "a" * 32
    with override_settings(REQLOG_CAPTURE_REQUEST_BODY=setting):
        response = client.post(path, {"note": "from the form", "csrfmiddlewaretoken": "b" * 32})
    assert response.status_code == 403  # the token was read from the body, and is wrong
    (event,) = reqlog_events
    body = event["http"]["request"]["body"]
    assert ("content" in body) is kept
    assert ("from the form" in reqlog_events.text) is kept
    assert body["bytes"] > 0


@pytest.mark.parametrize("client", ["sync", "async"])
def test_response_body_and_sensitive_fields_for_one_view(reqlog_events, client):
    with override_settings(REQLOG_CAPTURE_RESPONSE_BODY=True):
        get("/async-response-body/", client)
        get("/same-json/", client)  # the same body from a view without options
    marked, plain = (json.loads(e["http"]["response"]["body"]["content"]) for e in reqlog_events)
    assert marked == {"iban": "[REDACTED]", "employee_no": "[REDACTED]", "note": "visible"}
    assert plain == views.ACCOUNT
    # Logstash's form masks the same way.
    assert json.loads(reqlog_events.logstash[0]["response_body"])["iban"] == "[REDACTED]"


def test_view_sensitive_fields_add_to_the_settings(reqlog_events):
    with override_settings(
        REQLOG_CAPTURE_RESPONSE_BODY=True, REQLOG_SENSITIVE_FIELDS=["note"]
    ):
        get("/async-response-body/", "async")
    body = json.loads(reqlog_events[0]["http"]["response"]["body"]["content"])
    assert body == {"iban": "[REDACTED]", "employee_no": "[REDACTED]", "note": "[REDACTED]"}


def test_a_class_marked_as_a_whole(reqlog_events):
    Client().get("/cbv/response-body/")
    Client().get("/cbv/plain/")
    marked, plain = reqlog_events
    assert marked["http"]["response"]["body"]["content"] == "class-wide body"
    assert "content" not in plain["http"]["response"]["body"]


def test_a_drf_viewset_class_and_action(reqlog_events):
    Client().get("/api/quiet/")
    body = json.dumps({"reason": "damaged", "amount": 12})
    Client().post("/api/items/7/refund/", body, content_type="application/json")
    quiet, refund = reqlog_events
    assert quiet["http"]["response"]["body"]["content"] == '{"quiet":true}'
    assert refund["reqlog"]["route"].endswith("/refund/")  # the action, not the list
    assert refund["http"]["request"]["body"] == {"bytes": len(body)}
    assert "damaged" not in reqlog_events.text


# -- @options: sampling --------------------------------------------------------------


def test_sample_rate_for_one_view(reqlog_events):
    for _ in range(5):
        Client().get("/never-sampled/")
    Client().get("/plain/")
    assert [e["url"]["path"] for e in reqlog_events] == ["/plain/"]


# -- the decorators themselves -------------------------------------------------------


def test_importable_from_the_package_root():
    assert django_reqlog.skip is view_options.skip
    assert django_reqlog.options is view_options.options
    assert {"skip", "options", "bind"} <= set(django_reqlog.__all__)


def test_views_are_returned_unchanged():
    async def view(request: Any) -> Any:
        return None

    assert django_reqlog.skip(view) is view
    assert asyncio.iscoroutinefunction(django_reqlog.options(sample_rate=0.5)(view))
    assert view.reqlog_options == view_options.ViewOptions(skip=True, sample_rate=0.5)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"capture_request_body": "no"}, TypeError, "capture_request_body=...) must be True"),
        ({"capture_response_body": 1}, TypeError, "capture_response_body=...) must be True"),
        ({"sample_rate": "0.1"}, TypeError, "sample_rate=...) must be a number"),
        ({"sample_rate": True}, TypeError, "sample_rate=...) must be a number"),
        ({"sample_rate": 1.5}, ValueError, "between 0.0 and 1.0, not 1.5"),
        ({"sample_rate": float("nan")}, ValueError, "between 0.0 and 1.0"),
        ({"sensitive_fields": "iban"}, TypeError, "must be a list of strings"),
        ({"sensitive_fields": ["iban", 3]}, TypeError, "must be a list of strings"),
        ({"sensitive_fields": ["--"]}, ValueError, "letters or digits"),
        ({"capture_everything": True}, TypeError, "capture_everything"),
    ],
)
def test_bad_arguments_fail_when_decorating(kwargs, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        django_reqlog.options(**kwargs)


@pytest.mark.parametrize("decorate", [django_reqlog.skip, django_reqlog.options(sample_rate=1)])
def test_only_callables_are_decorated(decorate):
    with pytest.raises(TypeError, match="decorates a view"):
        decorate("not a view")


def test_the_view_is_resolved_once(reqlog_events, monkeypatch):
    calls: list[str] = []
    resolve = URLResolver.resolve

    def counting(self: URLResolver, path: str) -> Any:
        if self.pattern.regex.pattern in ("^/", ""):  # the root resolver
            calls.append(path)
        return resolve(self, path)

    monkeypatch.setattr(URLResolver, "resolve", counting)
    Client().get("/api/items/heartbeat/")
    Client().get("/cbv/response-body/")
    assert calls == ["/api/items/heartbeat/", "/cbv/response-body/"]
    assert len(reqlog_events) == 1
