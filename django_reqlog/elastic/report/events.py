"""The few facts of one request event that the report needs, from either format."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django_reqlog.elastic.report.fields import lookup, parse_timestamp


@dataclass(frozen=True)
class RequestEvent:
    timestamp: dt.datetime | None
    status: int
    duration_ms: float | None
    route: str
    method: str
    user: str | None
    client_ip: str | None
    slow: bool


def event_from_doc(doc: Mapping[str, Any]) -> RequestEvent | None:
    """Extract a request event from an ECS or Logstash v1 document.

    Returns ``None`` for documents that are not request events (shipper
    metrics, ordinary log lines), which the report does not count.
    """
    if lookup(doc, "ecs.version") is not None or lookup(doc, "http.response.status_code"):
        return _from_ecs(doc)
    if "status" in doc or "request_path" in doc:
        return _from_logstash(doc)
    return None


def _from_ecs(doc: Mapping[str, Any]) -> RequestEvent | None:
    if lookup(doc, "event.kind") == "metric":
        return None
    status = _as_int(lookup(doc, "http.response.status_code"))
    if status is None:
        return None
    duration_ns = _as_float(lookup(doc, "event.duration"))
    return RequestEvent(
        timestamp=parse_timestamp(lookup(doc, "@timestamp")),
        status=status,
        duration_ms=None if duration_ns is None else duration_ns / 1_000_000,
        route=_first_text(lookup(doc, "reqlog.route"), lookup(doc, "url.path")) or "(unknown)",
        method=_first_text(lookup(doc, "http.request.method")) or "-",
        user=_first_text(lookup(doc, "user.name"), lookup(doc, "user.id")),
        client_ip=_first_text(lookup(doc, "client.ip")),
        slow=lookup(doc, "reqlog.slow") is True,
    )


def _from_logstash(doc: Mapping[str, Any]) -> RequestEvent | None:
    status = _as_int(doc.get("status"))
    if status is None:
        return None
    duration_ms = _as_float(doc.get("duration_ms"))
    if duration_ms is None:
        duration_ns = _as_float(doc.get("duration_ns"))
        duration_ms = None if duration_ns is None else duration_ns / 1_000_000
    return RequestEvent(
        timestamp=parse_timestamp(doc.get("@timestamp")),
        status=status,
        duration_ms=duration_ms,
        route=_first_text(doc.get("route"), doc.get("request_path")) or "(unknown)",
        method=_first_text(doc.get("request_method")) or "-",
        user=_first_text(doc.get("username"), doc.get("user_id")),
        client_ip=_first_text(doc.get("client")),
        slow=doc.get("slow") is True,
    )


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, (float, str)):
        try:
            return int(float(value))
        except (ValueError, OverflowError):  # text, NaN or infinity
            return None
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _first_text(*values: Any) -> str | None:
    """The first value that is neither missing nor empty, as text."""
    for value in values:
        if value is not None and value != "":
            return str(value)
    return None
