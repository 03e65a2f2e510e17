"""The one place an Elasticsearch client is built.

``ElasticsearchHandler``'s transport and the three commands all call
:func:`make_client`. It imports no Django, so the handler can use it from
its worker thread and scripts can use it outside a project.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django_reqlog.elastic.errors import ElasticError

# Callers own their retries: the shipper retries per item with backoff off
# the request thread, and the commands report a failure at once. The
# client's own retries would block and resend whole requests.
DEFAULTS: dict[str, Any] = {"max_retries": 0, "retry_on_timeout": False}


def make_client(hosts: str | Sequence[str], **options: Any) -> Any:
    """An ``elasticsearch.Elasticsearch`` for ``hosts``; ``options`` override :data:`DEFAULTS`.

    Building one opens no connection, so bad options fail here with the
    client's own message.
    """
    try:
        from elasticsearch import Elasticsearch
    except ImportError as exc:  # the client is an optional extra
        raise ElasticError(
            "the elasticsearch client is not installed: pip install 'django-reqlog[elasticsearch]'"
        ) from exc
    targets = [hosts] if isinstance(hosts, str) else list(hosts)
    return Elasticsearch(targets, **{**DEFAULTS, **options})


def safe_url(url: str) -> str:
    """The URL without any ``user:password@`` part, fit for printing."""
    parts = urlsplit(url)
    if not (parts.username or parts.password):
        return url
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
