"""End to end against the real node: requests through the middleware and the
ElasticsearchHandler into our data stream, then the dashboards' queries.

Expected numbers are computed in the test from what it sent, never copied
from Elasticsearch's answers.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
import uuid
from collections import Counter, defaultdict
from typing import Any

import pytest
from django.test import Client, override_settings

from django_reqlog.handlers import ElasticsearchHandler
from tests.helpers.es_fixtures import leaf_paths, template_field_types
from tests.helpers.request_facts import facts_with

pytestmark = pytest.mark.es

SECRET = "PLANTED-s3cret-" + uuid.uuid4().hex[:8]


def drain(handler: ElasticsearchHandler, es_client: Any, stream: str, timeout: float = 60) -> None:
    """Wait until every queued event has an outcome, then make it searchable.

    Counts outcomes instead of trusting ``wait_idle()`` alone: a batch the
    worker has taken off the queue but not yet sent is neither queued nor
    pending, and must not count as delivered.
    """
    deadline = time.monotonic() + timeout
    handler.wait_idle(timeout)
    while True:
        m = handler.status()["metrics"]
        done = m["sent"] + m["failed"] + m["dropped"]
        if done >= m["queued"] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert m["sent"] == m["queued"], m
    es_client.indices.refresh(index=stream)


# ---------------------------------------------------------------- one real request


@override_settings(REQLOG_CAPTURE_HEADERS=True, REQLOG_CAPTURE_RESPONSE_BODY=True)
def test_request_lands_with_mapped_types_and_no_secret(
    shipper: ElasticsearchHandler, es_client: Any, stream: str
) -> None:
    request_id = "e2e-" + uuid.uuid4().hex
    body = json.dumps({"username": "alice", "password": SECRET, "note": "hello"})
    response = Client().post(
        "/echo/?q=1&token=" + SECRET,
        data=body,
        content_type="application/json",
        headers={
            "X-Request-ID": request_id,
            "Authorization": f"Bearer {SECRET}",
            "User-Agent": "e2e-agent/1.0",
        },
    )
    assert response.status_code == 200
    drain(shipper, es_client, stream)

    found = es_client.search(index=stream, query={"term": {"http.request.id": request_id}})
    assert found["hits"]["total"]["value"] == 1
    hit = found["hits"]["hits"][0]
    source = hit["_source"]
    assert hit["_id"] == source["event"]["id"]  # _id is the event id: replays cannot duplicate
    assert SECRET not in json.dumps(source)
    assert source["http"]["request"]["method"] == "POST"
    assert source["url"]["path"] == "/echo/"
    assert source["http"]["response"]["status_code"] == 200
    assert source["user_agent"]["original"] == "e2e-agent/1.0"

    types = template_field_types()
    caps = es_client.field_caps(index=stream, fields="*")["fields"]
    fields = leaf_paths(source, types)
    for path in fields:
        assert path in types, f"{path} is emitted but not in the template"
        assert next(iter(caps[path])) == types[path], path
    for expected in (
        "@timestamp",
        "event.duration",
        "client.ip",
        "http.request.body.content",
        "reqlog.request.headers",
        "url.original",
        "http.response.body.bytes",
    ):
        assert expected in fields
    # The secret is not indexed under any field either.
    leak = es_client.search(index=stream, query={"query_string": {"query": f'"{SECRET}"'}})
    assert leak["hits"]["total"]["value"] == 0


# ---------------------------------------------------------------- the dashboards' aggregations

BASE = 1_764_000_000 - 1_764_000_000 % 60  # a minute boundary
ROUTES = {
    "api/orders/": "/api/orders/",
    "api/items/<int:pk>/": "/api/items/7/",
    "login/": "/login/",
}
STATUSES = [200, 200, 200, 201, 302, 404, 403, 500, 503]
USERS = ["alice", "bob", None]
IPS = ["203.0.113.5", "198.51.100.7", "2001:db8::1"]


def seeded_events(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    events = []
    for _ in range(n):
        route = rng.choice(list(ROUTES))
        events.append(
            {
                "ts": BASE + rng.randrange(0, 5 * 60) + rng.random(),
                "route": route,
                "path": ROUTES[route],
                "status": rng.choice(STATUSES),
                "user": rng.choice(USERS),
                "ip": rng.choice(IPS),
                "duration_ns": rng.randrange(1, 400) * 1_000_000 + rng.randrange(1000),
            }
        )
    return events


def to_record(event: dict[str, Any]) -> logging.LogRecord:
    event_id = uuid.uuid4().hex
    facts = facts_with(
        event_id=event_id,
        request_id=event_id[:12],
        started_at=event["ts"],
        method="GET",
        host="shop.example",
        path=event["path"],
        remote_addr=event["ip"],
        user_agent="seed",
        route=event["route"],
        view="v",
        status=event["status"],
        response_content_type="text/html",
        response_bytes=10,
        user_id=None,
        username=event["user"],
        duration_ns=event["duration_ns"],
    )
    level = (
        logging.ERROR
        if event["status"] >= 500
        else (logging.WARNING if event["status"] >= 400 else logging.INFO)
    )
    record = logging.LogRecord(
        "django_reqlog", level, __file__, 1, "GET %s %s", (event["path"], event["status"]), None
    )
    record.created = event["ts"]
    record.msecs = (event["ts"] % 1) * 1000
    record.reqlog = facts
    record.event_id = event_id
    return record


def linear_percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@pytest.fixture
def seeded(shipper: ElasticsearchHandler, es_client: Any, stream: str) -> list[dict[str, Any]]:
    events = seeded_events(240, seed=8)
    logger = logging.getLogger("django_reqlog")
    for event in events:
        logger.handle(to_record(event))
    drain(shipper, es_client, stream)
    assert es_client.count(index=stream)["count"] == len(events)
    return events


def minute(ts: float) -> int:
    return int(ts // 60 * 60 * 1000)


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def test_date_histogram_by_status_class(
    seeded: list[dict[str, Any]], es_client: Any, stream: str
) -> None:
    expected: Counter[tuple[int, str]] = Counter(
        (minute(e["ts"]), status_class(e["status"])) for e in seeded
    )
    result = es_client.search(
        index=stream,
        size=0,
        aggs={
            "per_minute": {
                "date_histogram": {"field": "@timestamp", "fixed_interval": "1m"},
                "aggs": {
                    "class": {
                        "range": {
                            "field": "http.response.status_code",
                            "keyed": True,
                            "ranges": [
                                {"key": "2xx", "from": 200, "to": 300},
                                {"key": "3xx", "from": 300, "to": 400},
                                {"key": "4xx", "from": 400, "to": 500},
                                {"key": "5xx", "from": 500, "to": 600},
                            ],
                        }
                    }
                },
            }
        },
    )
    got: Counter[tuple[int, str]] = Counter()
    for bucket in result["aggregations"]["per_minute"]["buckets"]:
        for key, sub in bucket["class"]["buckets"].items():
            if sub["doc_count"]:
                got[(bucket["key"], key)] = sub["doc_count"]
    assert got == expected
    assert len({m for m, _ in expected}) == 5


def test_error_rate_per_minute(seeded: list[dict[str, Any]], es_client: Any, stream: str) -> None:
    totals: Counter[int] = Counter(minute(e["ts"]) for e in seeded)
    errors: Counter[int] = Counter(minute(e["ts"]) for e in seeded if e["status"] >= 500)
    result = es_client.search(
        index=stream,
        size=0,
        aggs={
            "per_minute": {
                "date_histogram": {"field": "@timestamp", "fixed_interval": "1m"},
                "aggs": {
                    "errors": {"filter": {"range": {"http.response.status_code": {"gte": 500}}}}
                },
            }
        },
    )
    buckets = result["aggregations"]["per_minute"]["buckets"]
    got = {b["key"]: b["errors"]["doc_count"] / b["doc_count"] for b in buckets if b["doc_count"]}
    assert got == pytest.approx({m: errors[m] / totals[m] for m in totals})


def test_duration_percentiles_per_route(
    seeded: list[dict[str, Any]], es_client: Any, stream: str
) -> None:
    by_route: dict[str, list[int]] = defaultdict(list)
    for e in seeded:
        by_route[e["route"]].append(e["duration_ns"])
    result = es_client.search(
        index=stream,
        size=0,
        aggs={
            "route": {
                "terms": {"field": "reqlog.route", "size": 10},
                "aggs": {
                    "p": {"percentiles": {"field": "event.duration", "percents": [50, 95, 99]}},
                    "max": {"max": {"field": "event.duration"}},
                },
            }
        },
    )
    buckets = {b["key"]: b for b in result["aggregations"]["route"]["buckets"]}
    assert set(buckets) == set(by_route)
    for route, values in by_route.items():
        bucket = buckets[route]
        assert bucket["doc_count"] == len(values)
        assert bucket["max"]["value"] == max(values)
        for q in (50, 95, 99):
            # t-digest is approximate: within 5 % of the exact linear percentile.
            exact = linear_percentile(values, q)
            assert bucket["p"]["values"][f"{float(q)}"] == pytest.approx(exact, rel=0.05), (
                route,
                q,
            )


@pytest.mark.parametrize(
    ("field", "key"), [("url.path", "path"), ("user.name", "user"), ("client.ip", "ip")]
)
def test_terms(
    seeded: list[dict[str, Any]], es_client: Any, stream: str, field: str, key: str
) -> None:
    expected = Counter(e[key] for e in seeded if e[key] is not None)
    result = es_client.search(
        index=stream, size=0, aggs={"t": {"terms": {"field": field, "size": 20}}}
    )
    got = {b["key"]: b["doc_count"] for b in result["aggregations"]["t"]["buckets"]}
    assert got == dict(expected)
