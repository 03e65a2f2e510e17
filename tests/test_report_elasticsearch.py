"""``reqlog_report --elasticsearch`` against the real test-bed node."""

from __future__ import annotations

import json
import uuid
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from django_reqlog.report import BadLines, iter_elasticsearch, summarise
from tests.report_support import ecs_event, shipper_metric

pytestmark = pytest.mark.es


@pytest.fixture
def es_env(es_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("REQLOG_ELASTICSEARCH_URL", es_settings["url"])
    monkeypatch.delenv("REQLOG_ELASTICSEARCH_API_KEY", raising=False)
    for key, name in [
        ("username", "REQLOG_ELASTICSEARCH_USERNAME"),
        ("password", "REQLOG_ELASTICSEARCH_PASSWORD"),
        ("ca_certs", "REQLOG_ELASTICSEARCH_CA_CERTS"),
    ]:
        if es_settings[key]:
            monkeypatch.setenv(name, es_settings[key])
        else:
            monkeypatch.delenv(name, raising=False)
    return es_settings


@pytest.fixture
def index(es_client: Any) -> Any:
    name = f"reqlog-report-test-{uuid.uuid4().hex[:10]}"
    es_client.indices.create(index=name, mappings={"properties": {"@timestamp": {"type": "date"}}})
    yield name
    es_client.indices.delete(index=name, ignore_unavailable=True)


def load(es_client: Any, index: str, docs: list[dict[str, Any]]) -> None:
    operations: list[dict[str, Any]] = []
    for doc in docs:
        operations += [{"create": {"_index": index}}, doc]
    result = es_client.bulk(operations=operations, refresh=True)
    assert not result["errors"], result


def report(*args: str) -> dict[str, Any]:
    out = StringIO()
    call_command("reqlog_report", "--elasticsearch", *args, "--format", "json", stdout=out)
    data: dict[str, Any] = json.loads(out.getvalue())
    return data


def test_reads_every_document_across_pages(es_env: Any, es_client: Any, index: str) -> None:
    docs = [ecs_event(at=n, status=200 if n % 10 else 503) for n in range(250)]
    docs.append(shipper_metric(at=5))
    load(es_client, index, docs)
    # A page size below the document count exercises search_after paging.
    data = report("--index", index, "--page-size", "100")
    assert data["total_requests"] == 250
    assert data["other_documents"] == 1
    assert data["status_classes"] == {"2xx": 225, "5xx": 25}
    assert data["sources"] == [f"Elasticsearch {es_env['url']} index {index}"]


def test_since_window_is_applied_by_the_query(es_env: Any, es_client: Any, index: str) -> None:
    load(es_client, index, [ecs_event(at=0), ecs_event(at=3600), ecs_event(at=7200)])
    data = report("--index", index, "--since", "2026-03-01T12:30:00Z")
    assert data["total_requests"] == 2


def test_secret_in_a_document_fails_the_report(es_env: Any, es_client: Any, index: str) -> None:
    secret = f"planted-{uuid.uuid4().hex}"
    load(es_client, index, [ecs_event(extra={"url": {"path": "/", "query": f"k={secret}"}})])
    out = StringIO()
    with pytest.raises(CommandError, match="plaintext occurrence"):
        call_command(
            "reqlog_report", "--elasticsearch", "--index", index, "--secret", secret, stdout=out
        )
    assert secret not in out.getvalue()


def test_missing_index_is_a_clear_error(es_env: Any, es_client: Any) -> None:
    with pytest.raises(CommandError, match="not found"):
        report("--index", f"reqlog-nothing-{uuid.uuid4().hex[:8]}")


def test_wrong_password_is_a_clear_error(
    es_env: Any, es_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQLOG_ELASTICSEARCH_USERNAME", "nobody")
    monkeypatch.setenv("REQLOG_ELASTICSEARCH_PASSWORD", "wrong-password")
    with pytest.raises(CommandError, match="rejected the credentials"):
        report("--index", "whatever")


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
