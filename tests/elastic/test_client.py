"""The one client factory, for the handler and the commands."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from django_reqlog.elastic import client as client_module
from django_reqlog.elastic.client import make_client, safe_url
from django_reqlog.elastic.errors import ElasticError
from django_reqlog.handlers import ElasticsearchHandler
from tests.elastic.loopback_support import recorder


@pytest.fixture
def unavailable() -> Iterator[tuple[str, list[Any]]]:
    """A loopback server that answers every request 503 and records them."""
    server, seen = recorder({"error": {"type": "unavailable", "reason": "test"}}, 503)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()


@pytest.mark.parametrize(("options", "requests"), [({}, 1), ({"max_retries": 2}, 3)])
def test_callers_own_the_retries(
    unavailable: tuple[str, list[Any]], options: dict[str, Any], requests: int
) -> None:
    from elasticsearch import ApiError

    url, seen = unavailable
    client = make_client(url, **options)
    try:
        with pytest.raises(ApiError):
            client.perform_request(
                "GET", "/_cluster/health", headers={"accept": "application/json"}
            )
    finally:
        client.close()
    # A 503 is one the client would retry on its own; by default it must not.
    assert len(seen) == requests


def test_the_handler_builds_its_client_through_the_factory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[tuple[Any, dict[str, Any]]] = []
    real = client_module.make_client

    def recording(hosts: Any, **options: Any) -> Any:
        calls.append((hosts, options))
        return real(hosts, **options)

    monkeypatch.setattr(client_module, "make_client", recording)
    handler = ElasticsearchHandler(
        "http://127.0.0.1:9", basic_auth=("writer", "pw"), spool_dir=str(tmp_path)
    )
    try:
        # The constructor builds (and drops) one client to validate its options.
        assert calls == [
            (
                ["http://127.0.0.1:9"],
                {
                    "max_retries": 0,
                    "retry_on_timeout": False,
                    "basic_auth": ("writer", "pw"),
                    "verify_certs": True,
                },
            )
        ]
        transport = handler._make_transport()
        client = transport._client()
        # The shipper's tweak still applies: a pool never waits for a connection.
        assert [node.pool.block for node in client.transport.node_pool.all()] == [False]
        transport.close()
    finally:
        handler.close()
    assert len(calls) == 2


def test_a_missing_client_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "elasticsearch", None)
    with pytest.raises(ElasticError, match=r"pip install 'django-reqlog\[elasticsearch\]'"):
        make_client("http://127.0.0.1:9")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://es.example:9200", "https://es.example:9200"),
        ("https://elastic:s3cret@es.example:9200/", "https://es.example:9200/"),
        ("http://user@127.0.0.1:9200", "http://127.0.0.1:9200"),
        ("http://u:p@[::1]:9200", "http://[::1]:9200"),
    ],
)
def test_safe_url_never_shows_credentials(url: str, shown: str) -> None:
    assert safe_url(url) == shown
