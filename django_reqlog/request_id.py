"""Request IDs: validate inbound ones, make them available to application logs."""

from __future__ import annotations

import logging
import re
import uuid

from django_reqlog.context import RequestContext, get_request_id

_VALID_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# W3C trace context: version-traceid-parentid-flags, lower-case hex only.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")

__all__ = [
    "RequestIDFilter",
    "accept_or_generate",
    "get_request_id",
    "parse_traceparent",
    "request_context",
]


def accept_or_generate(incoming: str | None) -> str:
    """Echo a well-formed inbound ID; replace anything else so it is never reflected."""
    if incoming is not None and _VALID_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def parse_traceparent(value: str | None) -> tuple[str, str] | None:
    """``(trace_id, parent_span_id)`` from a W3C ``traceparent`` header, or
    None when it is absent or invalid."""
    if not value:
        return None
    match = _TRACEPARENT.fullmatch(value.strip())
    if match is None:
        return None
    version, trace_id, parent_id, _flags = match.groups()
    # Version ff and all-zero ids are invalid by the specification.
    if version == "ff" or trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return trace_id, parent_id


def request_context(request_id: str, traceparent: str | None, span_id: str) -> RequestContext:
    """A request's context: its ID, its own span, and the trace and parent
    span of a valid ``traceparent`` header."""
    trace = parse_traceparent(traceparent)
    if trace is None:
        return RequestContext(request_id, None, span_id, None)
    return RequestContext(request_id, trace[0], span_id, trace[1])


class RequestIDFilter(logging.Filter):
    """Adds ``record.request_id`` (or ``"-"`` outside a request) for format strings."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = get_request_id() or "-"
        return True
