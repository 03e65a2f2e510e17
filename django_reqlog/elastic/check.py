"""Send one event through the configured handlers and find it in Elasticsearch.

This proves the whole path a request event takes (logger ``django_reqlog``
-> handlers -> shipper or Logstash -> index template -> searchable), not just
that a socket opens.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django_reqlog.elastic import rest
from django_reqlog.elastic.connection import handlers_of

LOGGER = "django_reqlog"


def accepting_handlers(level: int) -> list[logging.Handler]:
    """The handlers of ``django_reqlog`` that would take a record at ``level``."""
    return [h for h in handlers_of(LOGGER) if h.level <= level]


def send_check_event(event_id: str, level: int, handlers: list[logging.Handler]) -> None:
    """Log one event marked ``event_id`` on ``django_reqlog``, then flush ``handlers``."""
    logger = logging.getLogger(LOGGER)
    # Bypass the logger's own level (it may be WARNING in production) but
    # keep its filters and each handler's level.
    record = logger.makeRecord(
        logger.name,
        level,
        __file__,
        0,
        "reqlog_check %s",
        (event_id,),
        None,
        extra={"event_id": event_id, "reqlog_check": True},
    )
    logger.handle(record)
    for handler in handlers:
        handler.flush()


def find_event(client: Any, target: str, event_id: str) -> dict[str, Any] | None:
    """The event with this id, if searchable yet (ECS ``event.id`` or ``_id``)."""
    query = {
        "bool": {
            "should": [{"term": {"event.id": event_id}}, {"ids": {"values": [event_id]}}],
            "minimum_should_match": 1,
        }
    }
    response = rest.send_json(
        client,
        "POST",
        f"/{target}/_search",
        {"size": 1, "query": query},
        ignore_unavailable="true",
        allow_no_indices="true",
        expand_wildcards="open",
    )
    hits = response.get("hits", {}).get("hits", [])
    return hits[0] if hits else None


def wait_for_event(
    client: Any, target: str, event_id: str, timeout: float, interval: float = 0.2
) -> tuple[dict[str, Any] | None, float]:
    """Poll :func:`find_event` until it finds the event or ``timeout`` passes."""
    started = time.monotonic()
    while True:
        hit = find_event(client, target, event_id)
        elapsed = time.monotonic() - started
        if hit is not None or elapsed >= timeout:
            return hit, elapsed
        time.sleep(interval)
