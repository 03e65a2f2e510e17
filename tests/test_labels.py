"""``django_reqlog.bind()``: custom fields on the request's own event, under
``labels.*`` in ECS and at the top level in the Logstash form; context-local,
async-safe, bounded and masked (tests/helpers/view_control_views.py binds)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client, override_settings

import django_reqlog
from django_reqlog import formatters, labels, masking
from django_reqlog.formatters import ECSFormatter, LogstashFormatter
from tests.helpers import request_facts as es

pytestmark = [pytest.mark.urls("tests.helpers.view_control_urls"), pytest.mark.django_db]


def get(path: str, client: str = "sync") -> Any:
    if client == "async":
        return async_to_sync(AsyncClient().get)(path)
    return Client().get(path)


@pytest.mark.parametrize("client", ["sync", "async"])  # async: the sync view runs in a thread
def test_a_view_and_what_it_calls_bind_fields(reqlog_events, client):
    get("/binds/", client)
    (event,) = reqlog_events
    assert event["labels"] == {"tenant": "acme", "plan": "pro", "order_id": 42}
    flat = reqlog_events.logstash[0]
    assert {k: flat[k] for k in ("tenant", "plan", "order_id")} == event["labels"]
    assert "labels" not in flat and "labels_dropped" not in flat


@pytest.mark.parametrize("client", ["sync", "async"])
def test_an_async_view_its_tasks_and_its_threads_bind(reqlog_events, client):
    get("/async-binds/", client)
    (event,) = reqlog_events
    assert event["labels"] == {"tenant": "acme", "left": 1, "right": 2, "order_id": 7}


def test_concurrent_requests_keep_their_own_fields(reqlog_events):
    async def both() -> None:
        client = AsyncClient()
        await asyncio.gather(*(client.get(f"/binds-echo/?who={who}") for who in ("ann", "bob")))

    asyncio.run(both())
    got = sorted((e["labels"]["who"], e["labels"]["after"]) for e in reqlog_events)
    assert got == [("ann", "ann"), ("bob", "bob")]


def test_a_failed_request_keeps_its_fields(reqlog_events):
    response = Client(raise_request_exception=False).get("/binds-then-fails/")
    assert response.status_code == 500
    (event,) = reqlog_events
    assert event["labels"] == {"tenant": "acme"}
    assert event["error"]["type"] == "RuntimeError"


EVERYTHING = {
    "tenant": "acme",
    "ratio": 0.25,
    "flag": True,
    "card": "[REDACTED]",  # a card number, as an int
    "api_token": "[REDACTED]",  # a sensitive name
    "note": "password=[REDACTED] and [REDACTED]",  # masked like a form value
    "items": "[1, 2]",  # not a JSON scalar: its repr
    "status": "mine",
    # "cleared" was bound, then removed with None
    **{f"extra_{n}": n for n in range(24)},  # up to 32 fields
}


def test_bounds_and_masking(reqlog_events):
    Client().get("/binds-everything/")
    (event,) = reqlog_events
    assert event["labels"] == EVERYTHING
    # Dropped: 3 names that do not fit ("bad.name", "", "_hidden"), 16 past the 32nd.
    assert event["reqlog"]["labels_dropped"] == 19
    assert "hunter2" not in reqlog_events.text


def test_logstash_top_level_never_clobbers_a_field(reqlog_events):
    Client().get("/binds-everything/")
    flat = reqlog_events.logstash[0]
    assert flat["status"] == 200  # the label "status" is dropped there
    assert {k: flat[k] for k in EVERYTHING if k != "status"} == {
        k: v for k, v in EVERYTHING.items() if k != "status"
    }
    assert flat["labels_dropped"] == 20


@override_settings(
    REQLOG_SENSITIVE_FIELDS=["tenant"], REQLOG_SENSITIVE_VALUE_PATTERNS=[r"pro\b"]
)
def test_the_settings_mask_fields_too(reqlog_events):
    Client().get("/binds/")
    assert reqlog_events[0]["labels"] == {
        "tenant": "[REDACTED]",
        "plan": "[REDACTED]",
        "order_id": 42,
    }


def test_outside_a_request_bind_does_nothing():
    django_reqlog.bind(tenant="acme", **{"bad name": object()})
    assert labels._bound.get() is None


def test_values_are_fixed_and_capped_when_bound():
    holder = labels.BoundLabels()
    token = labels._bound.set(holder)
    try:
        mutable = ["a"]
        django_reqlog.bind(items=mutable, long="x" * 5000, big=2**70, nan=float("nan"))
        mutable.append("b")  # changed after binding: the event keeps what was bound

        class Broken:
            def __repr__(self) -> str:
                raise RuntimeError("no repr")

        django_reqlog.bind(broken=Broken())
    finally:
        labels._bound.reset(token)
    values = dict(holder.snapshot())
    assert values["items"] == "['a']"
    assert values["long"] == "x" * 1023 + "…"
    assert values["big"] == str(2**70)
    assert values["nan"] == "nan"
    assert values["broken"] == "<Broken object>"
    assert holder.dropped == 0


# -- the compiled core writes the same lines ---------------------------------------------

needs_core = pytest.mark.skipif(
    not masking.native_enabled(), reason="the core is not built or REQLOG_NATIVE=0"
)
FACTS = {
    "labels": (
        ("tenant", "acme"),
        ("order_id", 42),
        ("ratio", 0.5),
        ("ok", False),
        ("secret_hint", "x"),
        ("card", 4111111111111111),
        ("status", "clash"),
        ("note", "Bearer abcdefghijklmnop"),
    ),
    "labels_dropped": 2,
}


@needs_core
@pytest.mark.parametrize("formatter", [ECSFormatter(), LogstashFormatter()], ids=["ecs", "v1"])
def test_the_core_and_the_python_path_agree(formatter, monkeypatch):
    record = es.request_record(es.example_facts(**FACTS))
    core_line = formatter.format(record)
    monkeypatch.setattr(formatters, "_events_core", lambda: None)
    record.reqlog._fields = None
    assert formatter.format(record) == core_line
    doc = json.loads(core_line)
    placed = doc.get("labels", doc)
    assert placed["card"] == placed["secret_hint"] == placed["note"] == "[REDACTED]"
    assert (placed["tenant"], placed["order_id"], placed["ratio"], placed["ok"]) == (
        "acme",
        42,
        0.5,
        False,
    )


@needs_core
def test_the_core_formats_events_with_fields():
    events = formatters._events_core()
    assert events is not None
    record = es.request_record(es.example_facts(**FACTS))
    assert events.ecs(record, "h", None, True) is not None
    assert events.logstash(record, "h", [], "Logstash") is not None


def test_request_records_with_extras_keep_the_bound_fields():
    record = es.request_record(es.example_facts(**FACTS), tenant="from-a-filter", extra_only=1)
    doc = json.loads(ECSFormatter().format(record))
    assert doc["labels"]["tenant"] == "acme"  # bound: it wins
    assert doc["labels"]["extra_only"] == 1
    assert doc["event"]["kind"] == "event"
