"""``REQLOG_CAPTURE_DB``: each request's database queries, counted and timed.

For the length of a request the middleware puts one ``QueryStats`` on every
database in ``DATABASES`` with Django's public
``connection.execute_wrapper()``. The wrapper times each statement around
the call that executes it, and re-raises whatever that call raises, as it
raised it; it runs no query of its own and changes no argument or result.

Connections are per thread. A sync request's queries run on its own
thread. Under ASGI, Django runs sync views and the ORM's async methods
(``aget()``, ``acount()``, ``sync_to_async`` with the default
``thread_sensitive=True``) on one thread per request, so the middleware puts
the wrappers on that thread's connections (``install_in_sync_thread``).
Queries run on other threads (``thread_sensitive=False``, threads the view
starts itself) are not counted, nor are those made while a streamed
response's content is produced, after the view returned.

Each wrapper counts only statements executed in its own request's context:
a connection two requests share (test clients without ASGI's per-request
thread) cannot mix their counts.

The SQL text (``REQLOG_CAPTURE_DB_SQL``) is the slowest statement's, as the
database received it, parameters never included; ``mask_sql()`` turns its
literals into ``?`` when the event is formatted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from contextvars import ContextVar
from typing import Any

__all__ = ["MAX_SQL_CHARS", "QueryStats", "install", "mask_sql"]

MAX_SQL_CHARS = 2048
# Captured text is cut here before masking, so a huge statement costs little.
_KEPT_SQL_CHARS = 2 * MAX_SQL_CHARS


class QueryStats:
    """An ``execute_wrapper`` that counts and times one request's statements."""

    __slots__ = ("count", "keep_sql", "slowest_ns", "slowest_sql", "total_ns")

    def __init__(self, keep_sql: bool) -> None:
        self.keep_sql = keep_sql
        self.count = 0
        self.total_ns = 0
        self.slowest_ns = 0
        self.slowest_sql: str | None = None

    def __call__(
        self,
        execute: Callable[..., Any],
        sql: Any,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        if _counting.get() is not self:  # another request's, on a shared connection
            return execute(sql, params, many, context)
        start = time.perf_counter_ns()
        try:
            return execute(sql, params, many, context)
        finally:
            self._note(time.perf_counter_ns() - start, sql)

    def _note(self, elapsed: int, sql: Any) -> None:
        self.count += 1
        self.total_ns += elapsed
        if elapsed >= self.slowest_ns:
            self.slowest_ns = elapsed
            if self.keep_sql:
                self.slowest_sql = str(sql)[:_KEPT_SQL_CHARS] if sql is not None else None


# Which QueryStats counts in this context: set by the middleware for the
# request, inherited by the threads Django runs its sync code in.
_counting: ContextVar[QueryStats | None] = ContextVar("django_reqlog_query_stats", default=None)


def start(stats: QueryStats) -> Any:
    """Make ``stats`` the current request's counter; returns the token to reset."""
    return _counting.set(stats)


def stop(token: Any) -> None:
    _counting.reset(token)


def install(stats: QueryStats, aliases: Sequence[str] | None = None) -> ExitStack:
    """Put ``stats`` on this thread's connection of every database; closing
    the returned stack takes them off again, in reverse order."""
    from django.db import connections  # here: formatting imports this module too

    stack = ExitStack()
    for alias in connections if aliases is None else aliases:
        try:
            connection = connections[alias]
        except Exception:  # a misconfigured alias: the application will hear of it itself
            continue
        stack.enter_context(connection.execute_wrapper(stats))
    return stack


# -- SQL text ----------------------------------------------------------------------

_COMMENT = re.compile(r"--[^\n]*|/\*.*?(?:\*/|\Z)", re.S)
# A string literal as standard SQL reads it ('' escapes a quote) and as
# MySQL reads it (a backslash escapes too). What lies inside either is masked:
# reading a statement with the wrong dialect's rule must not leak a literal.
_STRINGS = (
    re.compile(r"'(?:[^']|'')*(?:'|\Z)"),
    re.compile(r"'(?:[^'\\]|\\.|'')*(?:'|\Z)", re.S),
)
_NUMBER_OR_NAME = re.compile(
    r"""(?P<name>"(?:[^"]|"")*"|`[^`]*`)"""
    r"""|(?P<number>(?<![\w$.])(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)(?!\w))"""
)


def mask_sql(sql: str, scrub: Callable[[str], str]) -> str:
    """``sql`` with its comments, string literals and numbers masked (quoted
    names and placeholders kept), then ``scrub`` (the value-shape masking)
    over the result, cut at MAX_SQL_CHARS. Where the text is ambiguous, more
    is masked rather than less."""
    text = _COMMENT.sub("/* ? */", sql)
    text = _mask_strings(text)
    text = _NUMBER_OR_NAME.sub(lambda m: "?" if m.lastgroup == "number" else m.group(0), text)
    masked = scrub(text)
    if len(masked) <= MAX_SQL_CHARS:
        return masked
    return masked[: MAX_SQL_CHARS - 1] + "…"


def _mask_strings(text: str) -> str:
    spans = sorted(m.span() for pattern in _STRINGS for m in pattern.finditer(text))
    if not spans:
        return text
    out: list[str] = []
    copied = 0
    for start, end in spans:
        if end <= copied:
            continue  # inside a literal already masked
        if start < copied:  # overlapping: the merged literal goes on
            copied = end
            continue
        out += [text[copied:start], "'?'"]
        copied = end
    out.append(text[copied:])
    return "".join(out)
