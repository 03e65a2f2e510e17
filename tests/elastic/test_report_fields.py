"""Reading dotted ECS paths from nested, flat and mixed documents."""

from __future__ import annotations

from typing import Any

import pytest

from django_reqlog.elastic.report.fields import lookup


@pytest.mark.parametrize(
    ("doc", "path", "expected"),
    [
        ({"http": {"response": {"status_code": 503}}}, "http.response.status_code", 503),
        ({"http.response.status_code": 503}, "http.response.status_code", 503),
        ({"http": {"response.status_code": 503}}, "http.response.status_code", 503),
        ({"log.level": "info", "log": {"logger": "x"}}, "log.level", "info"),
        ({"log.level": "info", "log": {"logger": "x"}}, "log.logger", "x"),
        ({"http": {"response": {}}}, "http.response.status_code", None),
        ({"http": "not an object"}, "http.response.status_code", None),
        ({}, "@timestamp", None),
    ],
)
def test_lookup_reads_nested_flat_and_mixed_documents(
    doc: dict[str, Any], path: str, expected: object
) -> None:
    assert lookup(doc, path) == expected
