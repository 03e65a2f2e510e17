"""Celery: tasks sent during a request carry its IDs, and log with them.

Call ``connect()`` once where the project defines its Celery app (the module
both the web processes and the workers import)::

    # proj/celery.py
    app = Celery("proj")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    django_reqlog.celery.connect()

Then a task published while a request (or a task) is handled gets the
``reqlog_request_id``, ``reqlog_trace_id`` and ``reqlog_parent_span_id``
message headers (``before_task_publish``). The worker validates them and, for
the length of the task, makes them the current ``RequestContext``
(``task_prerun`` / ``task_postrun``), with a span ID of the task's own: its
records then carry the request's ID and trace through ``RequestContextFilter``,
and the tasks it sends carry them on.

Nothing is imported from Celery until ``connect()`` runs.
"""

from __future__ import annotations

import os
import re
from contextvars import Token
from typing import Any

from django_reqlog.context import RequestContext, _current
from django_reqlog.request_id import _VALID_ID

__all__ = [
    "HEADER_PARENT_SPAN_ID",
    "HEADER_REQUEST_ID",
    "HEADER_TRACE_ID",
    "connect",
    "disconnect",
]

HEADER_REQUEST_ID = "reqlog_request_id"
HEADER_TRACE_ID = "reqlog_trace_id"
HEADER_PARENT_SPAN_ID = "reqlog_parent_span_id"

# As in traceparent, all-zero IDs are invalid.
_TRACE_ID = re.compile(r"(?!0{32})[0-9a-f]{32}")
_SPAN_ID = re.compile(r"(?!0{16})[0-9a-f]{16}")
_UID = "django_reqlog.celery."

# The token of each running task's context, by task ID, from prerun to postrun.
_tokens: dict[str, Token[RequestContext | None]] = {}


def connect() -> None:
    """Connect the three receivers; calling it again changes nothing."""
    signals = _signals()
    signals.before_task_publish.connect(add_headers, weak=False, dispatch_uid=_UID + "publish")
    signals.task_prerun.connect(enter_task, weak=False, dispatch_uid=_UID + "prerun")
    signals.task_postrun.connect(leave_task, weak=False, dispatch_uid=_UID + "postrun")


def disconnect() -> None:
    """Undo ``connect()``."""
    signals = _signals()
    signals.before_task_publish.disconnect(dispatch_uid=_UID + "publish")
    signals.task_prerun.disconnect(dispatch_uid=_UID + "prerun")
    signals.task_postrun.disconnect(dispatch_uid=_UID + "postrun")


def _signals() -> Any:
    try:
        from celery import signals
    except ImportError as exc:
        raise ImportError(
            'django_reqlog.celery needs Celery: pip install "django-reqlog[celery]"'
        ) from exc
    return signals


def add_headers(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """``before_task_publish``: the current request's IDs go with the message.

    Headers already there are kept: a retry re-sends its original ones.
    """
    context = _current.get()
    if context is None or headers is None:
        return
    headers.setdefault(HEADER_REQUEST_ID, context.request_id)
    if context.trace_id is not None:
        headers.setdefault(HEADER_TRACE_ID, context.trace_id)
    if context.span_id is not None:
        headers.setdefault(HEADER_PARENT_SPAN_ID, context.span_id)


def enter_task(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    """``task_prerun``: run the task in the context its headers name.

    A task without them (sent outside a request, or run eagerly in the
    caller's own context) is left as it is.
    """
    context = task_context(getattr(task, "request", None))
    if context is not None and task_id is not None:
        _tokens[task_id] = _current.set(context)


def leave_task(task_id: str | None = None, **kwargs: Any) -> None:
    """``task_postrun``: back to the worker's context, whatever the outcome."""
    token = _tokens.pop(task_id, None) if task_id is not None else None
    if token is None:
        return
    try:
        _current.reset(token)
    except ValueError:  # not the context prerun ran in: clear rather than leak
        _current.set(None)


def task_context(request: Any) -> RequestContext | None:
    """The context a task request's headers name, with a new span for the
    task; None unless they carry a well-formed request ID. Headers come from
    the broker: malformed IDs are dropped, never passed on."""
    if request is None:
        return None
    request_id = _header(request, HEADER_REQUEST_ID, _VALID_ID)
    if request_id is None:
        return None
    return RequestContext(
        request_id,
        _header(request, HEADER_TRACE_ID, _TRACE_ID),
        os.urandom(8).hex(),
        _header(request, HEADER_PARENT_SPAN_ID, _SPAN_ID),
    )


def _header(request: Any, name: str, pattern: re.Pattern[str]) -> str | None:
    value = getattr(request, name, None)
    if value is None:  # a request built by apply(headers=...) keeps them apart
        extra = getattr(request, "headers", None)
        value = extra.get(name) if isinstance(extra, dict) else None
    if isinstance(value, str) and pattern.fullmatch(value):
        return value
    return None
