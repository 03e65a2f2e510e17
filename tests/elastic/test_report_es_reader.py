"""Reading documents back from the real test-bed node: point in time and scroll."""

from __future__ import annotations

from typing import Any

import pytest

from django_reqlog.elastic.report.es_reader import iter_elasticsearch
from django_reqlog.elastic.report.files import BadLines
from django_reqlog.elastic.report.summarise import summarise
from tests.elastic.report_support import ecs_event, load

pytestmark = pytest.mark.es


@pytest.mark.parametrize("prefer_pit", [True, False], ids=["point-in-time", "scroll"])
def test_both_readers_return_every_document_once(
    es_client: Any, index: str, prefer_pit: bool
) -> None:
    docs = [ecs_event(at=n, status=200 + (n % 3)) for n in range(120)]
    load(es_client, index, docs)
    read = list(iter_elasticsearch(es_client, index, None, page_size=25, prefer_pit=prefer_pit))
    assert len(read) == 120
    assert sorted(source["@timestamp"] for _raw, source in read) == sorted(
        doc["@timestamp"] for doc in docs
    )
    summary = summarise(read, sources=[index], bad=BadLines())
    assert summary.statuses == {"200": 40, "201": 40, "202": 40}
