"""Request events out of ECS (nested or dotted) and Logstash v1 documents."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from django_reqlog.elastic.report.events import event_from_doc
from tests.elastic.report_support import BASE, ecs_event, ecs_flat, logstash_event, shipper_metric


@pytest.mark.parametrize("shape", ["ecs", "ecs-flat", "logstash"])
def test_event_from_doc_reads_every_shape(shape: str) -> None:
    kwargs: dict[str, Any] = {
        "at": 61.5,
        "status": 502,
        "route": "api/boom/",
        "ms": 12.5,
        "user": "alice",
        "ip": "2001:db8::1",
        "slow": True,
    }
    if shape == "logstash":
        doc = logstash_event(**kwargs)
    else:
        doc = ecs_event(**kwargs)
        if shape == "ecs-flat":
            doc = ecs_flat(doc)
    event = event_from_doc(doc)
    assert event is not None
    assert event.status == 502
    assert event.route == "api/boom/"
    assert event.duration_ms == pytest.approx(12.5)
    assert event.user == "alice"
    assert event.client_ip == "2001:db8::1"
    assert event.slow is True
    assert event.timestamp == BASE + dt.timedelta(seconds=61.5)


@pytest.mark.parametrize(
    "doc",
    [
        shipper_metric(),
        {"@timestamp": "2026-03-01T12:00:00Z", "message": "an ordinary log line"},
        {"ecs": {"version": "8.11.0"}, "message": "no http fields"},
        {"status": "not a number", "@version": "1"},
    ],
)
def test_non_request_documents_are_not_counted_as_requests(doc: dict[str, Any]) -> None:
    assert event_from_doc(doc) is None


def test_route_falls_back_to_path_then_unknown() -> None:
    with_path = event_from_doc(ecs_event(route=None, path="/raw/"))
    assert with_path is not None and with_path.route == "/raw/"
    bare = ecs_event(route=None)
    del bare["url"]
    event = event_from_doc(bare)
    assert event is not None and event.route == "(unknown)"


@pytest.mark.parametrize("status", [float("inf"), float("nan"), "Infinity", "NaN"])
def test_a_status_that_is_no_number_is_not_a_request(status: object) -> None:
    # json.loads reads Infinity and NaN; they used to stop the whole report.
    doc = {"ecs": {"version": "8.11.0"}, "http": {"response": {"status_code": status}}}
    assert event_from_doc(doc) is None
