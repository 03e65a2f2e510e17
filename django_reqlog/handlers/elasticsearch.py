"""Elasticsearch through the official client's bulk API, one ``create`` per event."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from .base import ShipperHandler, check_bool, check_str, check_str_pair
from .spool import Item
from .transport import SendResult

DEFAULT_INDEX = "logs-django.reqlog-default"
_BULK_REPLY_FIELDS = "errors,items.*.status,items.*.error.type,items.*.error.reason"


def _never_wait_for_a_pooled_connection(client: Any) -> None:
    """Let each urllib3 pool open a fresh connection instead of waiting for a free one.

    elastic_transport builds its pools with ``block=True`` and urllib3 waits
    for a free pooled connection with no timeout. Once the pool's queue is
    emptied, which urllib3's own exit-time finalizer does, the worker would
    wait for ever and flush/close could only give up. Our worker sends one
    batch at a time, so a non-blocking pool stays at one connection in normal
    operation; it just never waits. ``ClosedPoolError`` and other transport
    errors still raise, and the worker spools the batch.
    """
    import urllib3

    node_pool = getattr(getattr(client, "transport", None), "node_pool", None)
    for node in node_pool.all() if node_pool is not None else ():
        pool = getattr(node, "pool", None)
        if isinstance(pool, urllib3.HTTPConnectionPool):
            pool.block = False


class ElasticsearchTransport:
    """Bulk ``create`` with ``_id`` = event id: a replay can never duplicate."""

    def __init__(self, hosts: list[str], index: str, client_options: dict[str, Any]) -> None:
        self.hosts, self.index, self.client_options = hosts, index, client_options
        self.target = f"{','.join(hosts)}/{index}"
        self.client: Any = None

    def _client(self) -> Any:
        if self.client is None:
            from django_reqlog.elastic.client import make_client

            # Retries are ours (per item, with backoff, off the request
            # thread); the client's own would block and retry whole batches.
            self.client = make_client(
                self.hosts, max_retries=0, retry_on_timeout=False, **self.client_options
            )
            _never_wait_for_a_pooled_connection(self.client)
        return self.client

    def send(self, items: list[Item], timeout: float) -> SendResult:
        from elasticsearch import ApiError

        index = json.dumps(self.index)
        body = b"".join(
            b'{"create":{"_index":%s,"_id":%s}}\n%s\n'
            % (index.encode(), json.dumps(event_id).encode(), payload)
            for event_id, payload in items
        )
        try:
            # Only what is read below: a full bulk reply is about 250 bytes
            # per event, and parsing it was a visible share of the worker's time.
            response = (
                self._client()
                .options(request_timeout=timeout)
                .bulk(operations=body, filter_path=_BULK_REPLY_FIELDS)
            )
        except ApiError as exc:
            if exc.meta.status in (400, 413):
                reason = f"bulk request rejected: {exc.meta.status} {exc.message}"
                return SendResult(failed=[(i, reason) for i in range(len(items))])
            raise
        result = SendResult()
        if not response.get("errors"):
            return result
        for index_, entry in enumerate(response["items"]):
            outcome = entry.get("create") or next(iter(entry.values()))
            status = int(outcome.get("status", 0))
            if status < 300 or status == 409:
                continue  # 409 on create: that _id is already stored
            if status == 429 or status >= 500:
                result.retry.append(index_)
            else:
                error = outcome.get("error") or {}
                reason = f"{status} {error.get('type', '?')}: {error.get('reason', '')}"
                result.failed.append((index_, reason[:500]))
        return result

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


class ElasticsearchHandler(ShipperHandler):
    """Ship records to Elasticsearch (ECS documents) from a worker thread.

    ``ElasticsearchHandler("http://127.0.0.1:9200")`` writes to the data
    stream ``logs-django.reqlog-default``.
    """

    def __init__(
        self,
        hosts: str | list[str],
        *,
        index: str = DEFAULT_INDEX,
        api_key: str | tuple[str, str] | list[str] | None = None,
        basic_auth: tuple[str, str] | list[str] | None = None,
        ca_certs: str | None = None,
        verify_certs: bool = True,
        client_options: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        self.hosts = _checked_hosts(hosts)
        self.index = _checked_index(index)
        client = _client_options(client_options, api_key, basic_auth)
        if ca_certs is not None:
            client["ca_certs"] = check_str("ca_certs", ca_certs)
        client["verify_certs"] = check_bool("verify_certs", verify_certs)
        self.client_options = client
        # Build (and drop) a client now so bad options fail here, with the
        # client's own message, instead of on every send. No connection is made.
        probe = ElasticsearchTransport(self.hosts, DEFAULT_INDEX, client)
        probe._client()
        probe.close()
        self.target = f"{','.join(self.hosts)}/{self.index}"
        digest = hashlib.sha1(self.target.encode(), usedforsecurity=False).hexdigest()[:10]
        self.spool_key = f"elasticsearch-{self.index}-{digest}"
        super().__init__(**options)

    def _make_transport(self) -> ElasticsearchTransport:
        return ElasticsearchTransport(self.hosts, self.index, self.client_options)

    def _default_formatter(self) -> logging.Formatter:
        from django_reqlog.formatters import ECSFormatter

        return ECSFormatter()


def _checked_hosts(hosts: object) -> list[str]:
    if isinstance(hosts, str):
        hosts = [hosts]
    if not isinstance(hosts, (list, tuple)) or not hosts:
        raise TypeError("hosts must be a URL string or a non-empty list of URL strings")
    for host in hosts:
        check_str("hosts[]", host)
    return list(hosts)


def _checked_index(index: object) -> str:
    name = check_str("index", index) or DEFAULT_INDEX
    if name != name.lower() or name.startswith(("-", "_", "+")):
        raise ValueError(f"index {name!r} is not a valid Elasticsearch index name")
    return name


def _client_options(client_options: object, api_key: object, basic_auth: object) -> dict[str, Any]:
    """The client's keyword arguments: the caller's options plus credentials."""
    if client_options is not None and not isinstance(client_options, dict):
        raise TypeError("client_options must be a dict")
    client: dict[str, Any] = dict(client_options or {})
    if isinstance(api_key, (tuple, list)):
        client["api_key"] = check_str_pair(
            api_key, "api_key must be a str or an (id, api_key) pair of str"
        )
    elif api_key is not None:
        client["api_key"] = check_str("api_key", api_key)
    if basic_auth is not None:
        client["basic_auth"] = check_str_pair(
            basic_auth, "basic_auth must be a (username, password) pair of str"
        )
        if api_key is not None:
            raise ValueError("give api_key or basic_auth, not both")
    return client
