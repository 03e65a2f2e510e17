"""Logging filters that put the current request's IDs on application log records.

``RequestContextFilter`` adds ``request_id``, ``trace_id`` and ``span_id``
to every record logged while a request (or a task it sent) is handled.
``ECSFormatter`` places them at ``http.request.id``, ``trace.id`` and
``span.id``; ``LogstashFormatter`` writes them flat under those names, the
same names the request events use, so application logs and request events
line up in Kibana.
"""

from __future__ import annotations

import logging
import sys

from django_reqlog.context import _current
from django_reqlog.request_id import RequestIDFilter

__all__ = ["RequestContextFilter", "RequestIDFilter", "active_span_ids"]


def active_span_ids() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` of the active OpenTelemetry span, as lower-case
    hex, or None when there is none.

    OpenTelemetry is looked up, never imported: a span can only be active if
    the application has imported ``opentelemetry.trace`` already, so without
    it (installed or not) this costs one dictionary lookup.
    """
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    try:
        span_context = trace.get_current_span().get_span_context()
        if not span_context.is_valid:
            return None
        return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")
    except Exception:  # a broken or stubbed tracer must not cost the log line
        return None


class RequestContextFilter(logging.Filter):
    """Adds the current request's ``request_id``, ``trace_id`` and ``span_id``
    to each record; never rejects one.

    During a request (or a Celery task it sent, see ``django_reqlog.celery``)
    the IDs are the ones its event carries. While an OpenTelemetry span is
    active, ``trace_id`` and ``span_id`` are that span's instead, inside a
    request or not. Attributes the record already has (``extra=``) are kept,
    an ID that is unknown is left out, and request events are left alone:
    they carry their own. For ``%``-style format strings that name these
    attributes, give the formatter ``defaults`` for records logged outside a
    request.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        attrs = record.__dict__
        if "reqlog" in attrs:  # a request event
            return True
        context = _current.get()
        span = active_span_ids()
        if context is not None:
            _add(attrs, "request_id", context.request_id)
            if span is None:
                _add(attrs, "trace_id", context.trace_id)
                _add(attrs, "span_id", context.span_id)
        if span is not None:
            _add(attrs, "trace_id", span[0])
            _add(attrs, "span_id", span[1])
        return True


def _add(attrs: dict[str, object], name: str, value: str | None) -> None:
    if value is not None and name not in attrs:
        attrs[name] = value
