"""The numbers of every section, computed here from the events and compared."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import statistics
from typing import Any

import pytest

from django_reqlog.elastic.report.summarise import summarise
from django_reqlog.masking import REDACTED
from tests.elastic.report_support import BASE, ecs_event, pairs, shipper_metric


def test_summary_numbers_match_the_events() -> None:
    rng = random.Random(7)
    docs: list[dict[str, Any]] = []
    durations: dict[str, list[float]] = {"api/items/": [], "api/boom/": []}
    for second in range(0, 180, 3):
        ms = round(rng.uniform(1, 300), 3)
        durations["api/items/"].append(ms)
        docs.append(ecs_event(at=second, ms=ms, user="demo" if second % 2 else None))
    # A burst of 5xx inside the third minute.
    for offset in range(12):
        ms = round(rng.uniform(1, 50), 3)
        durations["api/boom/"].append(ms)
        docs.append(ecs_event(at=125 + offset, status=500, route="api/boom/", ms=ms, ip="10.0.0.9"))
    docs.append(ecs_event(at=10, status=404, ms=None, ip=None))
    docs.append(shipper_metric(at=50))

    summary = summarise(pairs(docs), sources=["test"])

    requests = [d for d in docs if "http" in d]
    assert summary.total_requests == len(requests)
    assert summary.other_documents == 1
    assert summary.status_classes == {"2xx": 60, "4xx": 1, "5xx": 12}
    assert summary.statuses == {"200": 60, "404": 1, "500": 12}
    # Minute buckets: the burst lands in the third one only.
    assert [row["errors_5xx"] for row in summary.timeline] == [0, 0, 12]
    assert [row["requests"] for row in summary.timeline] == [21, 20, 32]
    assert summary.timeline[2]["errors_5xx_per_minute"] == 12
    routes = {row["route"]: row for row in summary.routes}
    for route, values in durations.items():
        ordered = sorted(values)
        assert routes[route]["p50_ms"] == pytest.approx(ordered[math.ceil(len(ordered) / 2) - 1])
        assert routes[route]["p95_ms"] == pytest.approx(ordered[math.ceil(0.95 * len(ordered)) - 1])
        assert routes[route]["max_ms"] == pytest.approx(max(values))
        # Cross-check against the standard library on the same data.
        assert min(values) <= routes[route]["p50_ms"] <= max(values)
        assert abs(routes[route]["p50_ms"] - statistics.median(values)) <= (
            max(values) - min(values)
        )
    assert routes["api/items/"]["requests"] == 61  # 60 timed + the 404 without duration
    assert routes["api/boom/"]["errors_5xx"] == 12
    assert summary.top_users[0] == ("(anonymous)", 43)
    assert ("demo", 30) in summary.top_users
    assert summary.top_client_ips[0] == ("203.0.113.5", 60)
    assert ("10.0.0.9", 12) in summary.top_client_ips


def test_ties_are_ordered_by_name_whatever_the_event_order() -> None:
    """A file and what a shipper sent hold the same events in another order:
    their reports agree, ties by name, and the cut at ``top`` keeps the same ones."""
    docs = [
        ecs_event(at=second, user=user, ip=ip)
        for second, (user, ip) in enumerate(
            [("zoe", "198.51.100.9"), ("amy", "2001:db8::1f"), ("bob", "192.0.2.44")] * 2
        )
    ]
    summaries = [summarise(pairs(order), sources=["t"], top=2) for order in (docs, docs[::-1])]
    for summary in summaries:
        assert summary.top_users == [("amy", 2), ("bob", 2)]
        assert summary.top_client_ips == [("192.0.2.44", 2), ("198.51.100.9", 2)]


def test_bucket_width_and_empty_buckets_in_between() -> None:
    docs = [ecs_event(at=0), ecs_event(at=1, status=500), ecs_event(at=31, status=503)]
    summary = summarise(pairs(docs), sources=["t"], bucket=dt.timedelta(seconds=10))
    assert [row["requests"] for row in summary.timeline] == [2, 0, 0, 1]
    assert [row["errors_5xx"] for row in summary.timeline] == [1, 0, 0, 1]
    assert summary.timeline[0]["errors_5xx_per_minute"] == 6.0
    assert summary.timeline[0]["error_rate"] == 0.5


def test_since_filters_events_and_masking_counts() -> None:
    docs = [
        ecs_event(at=0, extra={"note": REDACTED}),
        ecs_event(at=600, extra={"note": f"{REDACTED} {REDACTED}"}),
    ]
    summary = summarise(pairs(docs), sources=["t"], since=BASE + dt.timedelta(minutes=5))
    assert summary.total_requests == 1
    assert summary.redacted_count == 2
    assert summary.since == (BASE + dt.timedelta(minutes=5)).isoformat()


@pytest.mark.parametrize(
    "stored",
    [
        "s3cr3t-V@lue/+ü",  # as-is
        json.dumps("s3cr3t-V@lue/+ü")[1:-1],  # JSON-escaped (\u00fc)
        "s3cr3t-V%40lue%2F%2B%C3%BC",  # URL-encoded
    ],
)
def test_secret_hits_count_plain_escaped_and_url_encoded_forms(stored: str) -> None:
    secret = "s3cr3t-V@lue/+ü"
    raw = '{"message": "x", "url": {"query": "q=' + stored + '"}}'
    summary = summarise([(raw, json.loads(raw))], sources=["t"], secrets=[secret, "absent-value"])
    assert [item["plaintext_hits"] for item in summary.secrets] == [1, 0]


def test_counts_the_same_placeholder_the_redaction_writes() -> None:
    from django_reqlog import masking

    assert REDACTED == masking.REDACTED
