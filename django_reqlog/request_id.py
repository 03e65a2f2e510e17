"""Request IDs: validate inbound ones, make them available to application logs."""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

_VALID_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# W3C trace context: version-traceid-parentid-flags, lower-case hex only.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")

_current: ContextVar[str | None] = ContextVar("django_reqlog_request_id", default=None)


def get_request_id() -> str | None:
    """The ID of the request being handled in this context, if any."""
    return _current.get()


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


class RequestIDFilter(logging.Filter):
    """Adds ``record.request_id`` (or ``"-"`` outside a request) for format strings."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _current.get() or "-"
        return True
