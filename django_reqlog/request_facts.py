"""A request's raw facts, captured on the request thread and formatted later
(``django_reqlog.request_fields``), and the record attributes that carry them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django_reqlog.setting_specs import MAX_BODY_BYTES


@dataclass(slots=True, kw_only=True)
class RequestFacts:
    """What the middleware saw, copied but not interpreted.

    Building this must stay cheap: it happens on the request thread. All
    parsing and masking waits for :func:`request_fields`, which runs wherever
    the record is formatted.
    """

    event_id: str
    request_id: str
    started_at: float
    method: str
    scheme: str
    host: str
    path: str
    query_string: str
    http_version: str
    remote_addr: str
    forwarded_for: str
    user_agent: str
    referer: str
    content_type: str
    content_length: int | None
    content_encoding: str
    remote_port: str = ""
    trace_id: str | None = None
    parent_span_id: str | None = None
    span_id: str | None = None
    status: int = 0
    max_body_bytes: int = MAX_BODY_BYTES.default
    headers: list[tuple[str, str]] | None = None
    body_prefix: bytes | None = None
    body_bytes: int | None = None
    # REQLOG_CAPTURE_REQUEST_BODY is off: the size is known, the bytes were not looked at.
    body_omitted: bool = False
    # Whether the application left part of the body unread (None: not known).
    body_unread: bool | None = None
    # Multipart bodies: each part's raw header block, its exact size, and
    # whether its end was seen; counted as the stream passed, bytes not kept.
    body_parts: tuple[tuple[bytes, int, bool], ...] | None = None
    sensitive_post: frozenset[str] | None = None
    route: str | None = None
    view: str | None = None
    # The URL's captured route parameters as (name, text), for masking the path.
    route_kwargs: tuple[tuple[str, str], ...] | None = None
    response_content_type: str = ""
    response_bytes: int | None = None
    response_body_prefix: bytes | None = None
    response_truncated: bool = False
    # A streaming response closed before its iterator was exhausted (None: not streamed).
    response_aborted: bool | None = None
    user_id: str | None = None
    username: str | None = None
    duration_ns: int = 0
    slow: bool = False
    # The probability this event was kept with (REQLOG_SAMPLE_RATE for sampled
    # requests, 1.0 for those never sampled out).
    sample_rate: float = 1.0
    # What the application bound with django_reqlog.bind(): (name, value)
    # pairs, already bounded (django_reqlog/labels.py), and how many were dropped.
    labels: tuple[tuple[str, str | int | float | bool], ...] | None = None
    labels_dropped: int = 0
    # REQLOG_CAPTURE_DB: statements executed, their total and the slowest
    # one's time, and (REQLOG_CAPTURE_DB_SQL) the slowest one's SQL as run.
    db_queries: int | None = None
    db_duration_ns: int | None = None
    db_slowest_ns: int | None = None
    db_slowest_sql: str | None = None
    # The view's @options(sensitive_fields=...): masked as if they were in
    # REQLOG_SENSITIVE_FIELDS, for this event only (normalised names).
    view_sensitive_fields: tuple[str, ...] | None = None
    _fields: dict[str, Any] | None = field(default=None, repr=False)


def record_extra(facts: RequestFacts) -> dict[str, Any]:
    """The attributes a request event's LogRecord carries besides the standard
    ones, wherever the record is made (the middleware, or a shipper's worker)."""
    return {"reqlog": facts, "event_id": facts.event_id, "request_id": facts.request_id}
