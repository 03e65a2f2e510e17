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


@pytest.fixture(scope="session")
def reqlog_templates(es_client: Any) -> Any:
    """Our component/index templates installed once per session (idempotent)."""
    from django_reqlog.elastic.install import run_setup

    return run_setup(es_client)


# ------------------------------------------------------------------ helpers shared by tests/elastic/ and test_logstash_*


def template_field_types() -> dict[str, str]:
    """Dotted field path -> mapped type, from the packaged component template."""
    from django_reqlog.elastic.resource_files import load_resource

    mappings = load_resource("component-mappings.json")["template"]["mappings"]
    out: dict[str, str] = {}

    def walk(props: dict[str, Any], prefix: str) -> None:
        for name, spec in props.items():
            path = f"{prefix}{name}"
            if "type" in spec and spec["type"] != "object":
                out[path] = spec["type"]
                for sub, subspec in (spec.get("fields") or {}).items():
                    out[f"{path}.{sub}"] = subspec["type"]
            if "properties" in spec:
                walk(spec["properties"], path + ".")

    walk(mappings["properties"], "")
    return out


def leaf_paths(doc: dict[str, Any], types: dict[str, str] | None = None) -> dict[str, Any]:
    """Dotted leaf paths of a document; a ``flattened`` field counts as one leaf."""
    types = template_field_types() if types is None else types
    out: dict[str, Any] = {}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict) and types.get(path) != "flattened":
            for key, sub in value.items():
                walk(sub, f"{path}.{key}" if path else key)
        else:
            out[path] = value

    walk(doc, "")
    return out


def full_request_record(
    event_id: str | None = None, status: int = 500, with_error: bool = True
) -> Any:
    """A request log record with every optional fact set, so formatters emit
    every field they can (headers, response body, proxy chain, trace, error)."""
    import logging
    import sys

    from django_reqlog.request_facts import RequestFacts

    event_id = event_id or uuid.uuid4().hex
    facts = RequestFacts(
        event_id=event_id,
        request_id=f"req-{event_id[:8]}",
        started_at=1764236572.0,
        method="POST",
        scheme="https",
        host="api.example.com:8443",
        path="/login/",
        query_string="next=%2Fhome&token=abc",
        http_version="HTTP/1.1",
        remote_addr="10.0.0.2",
        forwarded_for="203.0.113.5, 10.0.0.9",
        user_agent="curl/8.0",
        referer="https://ref.example/",
        content_type="application/json",
        content_length=44,
        content_encoding="",
        remote_port="51234",
        trace_id="0af7651916cd43dd8448eb211c80319c",
        parent_span_id="b7ad6b7169203331",
        span_id="53995c3f42cd8ad8",
        headers=[("X-Api-Key", "k-secret"), ("Accept", "*/*")],
        body_prefix=b'{"username": "alice", "password": "hunter2"}',
        body_bytes=44,
        body_unread=False,
        route="login/",
        view="login",
        status=status,
        response_content_type="application/json",
        response_bytes=17,
        response_body_prefix=b'{"ok": false}',
        user_id="7",
        username="alice",
        response_aborted=False,
        duration_ns=12_500_000,
        slow=True,
        sample_rate=0.5,
        labels=(("tenant", "acme"), ("order_id", 42)),
        labels_dropped=1,
        db_queries=4,
        db_duration_ns=2_500_000,
        db_slowest_ns=1_500_000,
        db_slowest_sql="SELECT \"auth_user\".\"id\" FROM \"auth_user\" WHERE \"id\" = 7",
    )
    exc_info = None
    if with_error:
        try:
            raise ZeroDivisionError("division by zero")
        except ZeroDivisionError:
            exc_info = sys.exc_info()
    level = logging.ERROR if status >= 500 else logging.INFO
    record = logging.LogRecord(
        "django_reqlog", level, "/app/mw.py", 10, "POST /login/ %s", (status,), exc_info, "emit"
    )
    record.reqlog = facts
    record.event_id = event_id
    record.request_id = facts.request_id
    return record


# Settings under which full_request_record() yields every field.
FULL_CAPTURE = {
    "REQLOG_CAPTURE_HEADERS": True,
    "REQLOG_CAPTURE_RESPONSE_BODY": True,
    "REQLOG_TRUSTED_PROXIES": ["10.0.0.0/8"],
}


def ecs_doc(**kwargs: Any) -> dict[str, Any]:
    """The ECS document of full_request_record(**kwargs), every field present."""
    from django.test import override_settings

    from django_reqlog.formatters import ECSFormatter

    with override_settings(**FULL_CAPTURE):
        doc: dict[str, Any] = ECSFormatter(service_name="shop").format_to_dict(
            full_request_record(**kwargs)
        )
    return doc


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the node is an ``es`` test, marked or not, so that
    ``-m "not es"`` never runs (and skips) it for want of a node."""
    for item in items:
        if {"es_settings", "es_client"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.es)
