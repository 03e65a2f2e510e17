"""Fixtures shared by the ELK kit's tests (tests/elastic/)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from django_reqlog.elastic.names import data_stream_name
from django_reqlog.handlers import ElasticsearchHandler
from tests.helpers.log_capture import attached

# Every variable the commands read, so a value in the developer's shell never
# reaches a test that did not set it.
COMMAND_VARIABLES = (
    "REQLOG_ELASTICSEARCH_URL",
    "REQLOG_ELASTICSEARCH_USERNAME",
    "REQLOG_ELASTICSEARCH_PASSWORD",
    "REQLOG_ELASTICSEARCH_API_KEY",
    "REQLOG_ELASTICSEARCH_CA_CERTS",
    "REQLOG_ELASTICSEARCH_INDEX",
    "REQLOG_ELASTICSEARCH_NAMESPACE",
    "REQLOG_ELASTICSEARCH_MODE",
    "REQLOG_ELASTICSEARCH_RETENTION_DAYS",
    "REQLOG_KIBANA_URL",
)


@pytest.fixture(autouse=True)
def _no_command_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in COMMAND_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def es_env(es_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The commands' environment variables pointing at the test node."""
    monkeypatch.setenv("REQLOG_ELASTICSEARCH_URL", es_settings["url"])
    for key, name in [
        ("username", "REQLOG_ELASTICSEARCH_USERNAME"),
        ("password", "REQLOG_ELASTICSEARCH_PASSWORD"),
        ("ca_certs", "REQLOG_ELASTICSEARCH_CA_CERTS"),
    ]:
        if es_settings[key]:
            monkeypatch.setenv(name, es_settings[key])
    return es_settings


@pytest.fixture
def index(es_client: Any) -> Iterator[str]:
    """A fresh plain index with a date-typed ``@timestamp``, deleted afterwards."""
    name = f"reqlog-report-test-{uuid.uuid4().hex[:10]}"
    es_client.indices.create(index=name, mappings={"properties": {"@timestamp": {"type": "date"}}})
    yield name
    es_client.indices.delete(index=name, ignore_unavailable=True)


@pytest.fixture
def stream(es_namespace: str, reqlog_templates: Any) -> str:
    """A data stream of its own, under our installed template."""
    return data_stream_name(es_namespace)


@pytest.fixture
def shipper(
    es_settings: dict[str, str], stream: str, tmp_path: Path
) -> Iterator[ElasticsearchHandler]:
    """An ElasticsearchHandler on ``django_reqlog`` with the least-privilege user."""
    handler = ElasticsearchHandler(
        es_settings["url"],
        index=stream,
        basic_auth=(es_settings["writer_username"], es_settings["writer_password"]),
        ca_certs=es_settings["ca_certs"] or None,
        flush_interval=0.05,
        spool_dir=str(tmp_path / "spool"),
        metrics_interval=None,
    )
    handler.set_name("es-e2e")
    try:
        with attached(handler, logging.INFO):
            yield handler
    finally:
        handler.close()
