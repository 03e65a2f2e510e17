"""Fixtures for tests that talk to the real Elasticsearch node.

The node comes from ``tests/testbed/esnode.py``, which exports ``REQLOG_TEST_ES_*``
variables. Without them, tests using these fixtures are skipped, except when
``REQLOG_TEST_ES_REQUIRED=1`` (set by esnode.py and so by ``make test``): then
a missing or unreachable node is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

ENV_KEYS = {
    "url": "REQLOG_TEST_ES_URL",
    "username": "REQLOG_TEST_ES_USERNAME",
    "password": "REQLOG_TEST_ES_PASSWORD",
    "ca_certs": "REQLOG_TEST_ES_CA_CERTS",
    "version": "REQLOG_TEST_ES_VERSION",
    "writer_username": "REQLOG_TEST_ES_WRITER_USERNAME",
    "writer_password": "REQLOG_TEST_ES_WRITER_PASSWORD",
}


def es_required() -> bool:
    return os.environ.get("REQLOG_TEST_ES_REQUIRED", "") == "1"


def _unavailable(reason: str) -> None:
    if es_required():
        pytest.fail(f"REQLOG_TEST_ES_REQUIRED=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def es_settings() -> dict[str, str]:
    """URL, credentials, CA path and version of the test node (strings; '' when unset)."""
    settings = {key: os.environ.get(var, "") for key, var in ENV_KEYS.items()}
    if not settings["url"]:
        _unavailable("no Elasticsearch node: run under `python tests/testbed/esnode.py run --`")
    return settings


def make_client(es_settings: dict[str, str], **overrides: Any) -> Any:
    from elasticsearch import Elasticsearch

    kwargs: dict[str, Any] = {"request_timeout": 30}
    if es_settings["username"]:
        kwargs["basic_auth"] = (es_settings["username"], es_settings["password"])
    if es_settings["ca_certs"]:
        kwargs["ca_certs"] = es_settings["ca_certs"]
    kwargs.update(overrides)
    return Elasticsearch(es_settings["url"], **kwargs)


@pytest.fixture(scope="session")
def es_client(es_settings: dict[str, str]) -> Iterator[Any]:
    """A superuser client. The minimal distribution has no `GET /`, so the
    reachability probe is cluster health, not ``info()``/``ping()``."""
    pytest.importorskip("elasticsearch")
    client = make_client(es_settings)
    try:
        client.cluster.health(wait_for_status="yellow", timeout="30s")
    except Exception as exc:
        _unavailable(f"Elasticsearch at {es_settings['url']} is not usable: {exc!r}")
    yield client
    client.close()


@pytest.fixture
def es_namespace() -> str:
    """A fresh data stream namespace, so tests never see each other's events
    (the minimal distribution cannot delete data streams)."""
    return "t" + uuid.uuid4().hex[:12]
