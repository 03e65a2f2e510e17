"""The summary's percentiles and its JSON form."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_reqlog.elastic.report.summarise import summarise
from django_reqlog.elastic.report.summary import percentile
from tests.elastic.report_support import ecs_event, logstash_event, pairs


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([10.0], 50, 10.0),
        ([10.0], 95, 10.0),
        ([10.0, 20.0, 30.0, 40.0], 50, 20.0),
        ([10.0, 20.0, 30.0, 40.0], 95, 40.0),
        ([float(n) for n in range(1, 101)], 95, 95.0),
        ([float(n) for n in range(1, 101)], 50, 50.0),
    ],
)
def test_percentile_is_nearest_rank(values: list[float], pct: float, expected: float) -> None:
    assert percentile(values, pct) == expected


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=200))
def test_percentile_brackets_the_data(values: list[float]) -> None:
    ordered = sorted(values)
    p50, p95 = percentile(ordered, 50), percentile(ordered, 95)
    assert ordered[0] <= p50 <= p95 <= ordered[-1]
    # Nearest rank: at least pct% of the values are <= the answer.
    assert sum(v <= p95 for v in ordered) >= math.ceil(0.95 * len(ordered))


def test_as_dict_is_json_serialisable() -> None:
    summary = summarise(pairs([ecs_event(), logstash_event(status=404)]), sources=["t"])
    data = json.loads(json.dumps(summary.as_dict()))
    assert data["total_requests"] == 2
    assert data["status_classes"] == {"2xx": 1, "4xx": 1}
    assert data["masking"]["plaintext_hits"] == 0
