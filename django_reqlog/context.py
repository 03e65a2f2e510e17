"""The current request's correlation IDs, for everything that logs on its behalf.

The middleware sets one ``RequestContext`` per request in a context
variable; ``get_request_id()``, the logging filters and the Celery
integration all read that same object, so an application log line, a task
sent from the view and the request's own event agree on the IDs.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import NamedTuple

__all__ = ["RequestContext", "current_context", "get_request_id"]


class RequestContext(NamedTuple):
    """The IDs of the unit of work being handled: a request or a task it sent.

    ``request_id`` is the request's (``http.request.id``); ``trace_id`` the
    W3C trace it belongs to, when the caller sent a ``traceparent``;
    ``span_id`` identifies this unit of work (the request's event carries it
    as ``span.id`` and ``transaction.id``); ``parent_span_id`` is the span
    that started it (the caller's, or the request's for a task).
    """

    request_id: str
    trace_id: str | None = None
    span_id: str | None = None
    parent_span_id: str | None = None


_current: ContextVar[RequestContext | None] = ContextVar("django_reqlog_context", default=None)


def current_context() -> RequestContext | None:
    """The context of the request (or task) being handled here, if any."""
    return _current.get()


def get_request_id() -> str | None:
    """The ID of the request being handled in this context, if any."""
    context = _current.get()
    return context.request_id if context is not None else None
