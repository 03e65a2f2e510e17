"""``django_reqlog.bind()``: custom fields on the current request's event.

The middleware gives each request one ``BoundLabels`` holder in a context
variable. A view, or anything it calls, adds fields with
``bind(tenant="acme", order_id=42)``; they appear under ``labels.*`` in ECS
and as top-level fields in the python-logstash v1 form. The holder is
mutable and shared by every copy of the request's context, so a sync view
that Django runs in a thread under ASGI, a task of an async view, or code
run with ``contextvars.copy_context()`` all bind to the same event.

Bounds, so that no application mistake can grow an event without limit:

- at most ``MAX_LABELS`` (32) fields per request;
- a name is 1 to 64 ASCII letters, digits, ``_`` or ``-``, starting with a
  letter or digit (an Elasticsearch field name with no dots, which would
  split it into objects);
- a value is a string, an int, a float or a bool; anything else (lists and
  dicts included) is written as its ``repr``, and text is cut at
  ``MAX_VALUE_CHARS`` (1,024) characters, ending in ``…``.

A field past the 32nd, or with a name that does not fit, is dropped and
counted (``reqlog.labels_dropped`` in ECS); ``bind()`` never raises. Binding a
name again replaces its value, and ``None`` removes it. Outside a request
``bind()`` does nothing.

Values are masked when the event is formatted, by the same rules as the
rest of it: a sensitive field name masks its value, and text is masked like
a form value (secret-shaped values, ``REQLOG_SENSITIVE_VALUE_PATTERNS``,
``key=value`` pairs under sensitive keys, JSON documents by key).
"""

from __future__ import annotations

import math
import re
import threading
from contextvars import ContextVar

__all__ = ["MAX_KEY_CHARS", "MAX_LABELS", "MAX_VALUE_CHARS", "BoundLabels", "bind"]

MAX_LABELS = 32
MAX_KEY_CHARS = 64
MAX_VALUE_CHARS = 1024
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_INT64 = range(-(2**63), 2**63)
# One lock for every request's holder: bind() is rare, and a view may bind
# from several threads at once.
_LOCK = threading.Lock()

Label = str | int | float | bool


class BoundLabels:
    """One request's bound fields, in the order they were first bound."""

    __slots__ = ("dropped", "values")

    def __init__(self) -> None:
        self.values: dict[str, Label] = {}
        self.dropped = 0

    def add(self, key: str, value: object) -> None:
        if not _KEY.fullmatch(key):
            with _LOCK:
                self.dropped += 1
            return
        plain = None if value is None else _plain(value)
        with _LOCK:
            if plain is None:
                self.values.pop(key, None)
            elif key in self.values or len(self.values) < MAX_LABELS:
                self.values[key] = plain
            else:
                self.dropped += 1

    def snapshot(self) -> tuple[tuple[str, Label], ...]:
        with _LOCK:
            return tuple(self.values.items())


# A mutable holder, not the values themselves: a sync view runs in a copy of
# the request's context under ASGI, and a value set there would not come back.
_bound: ContextVar[BoundLabels | None] = ContextVar("django_reqlog_labels", default=None)


def bind(**fields: object) -> None:
    """Add ``fields`` to the event of the request being handled (see the module docs)."""
    holder = _bound.get()
    if holder is None:
        return
    for key, value in fields.items():
        holder.add(key, value)


def _plain(value: object) -> Label:
    """``value`` as a JSON scalar the event can carry, fixed at bind time."""
    kind = type(value)
    if kind is bool or kind is str:
        return _cap(value) if kind is str else value  # type: ignore[arg-type,return-value]
    if kind is int:
        return value if value in _INT64 else _cap(_repr(value))  # type: ignore[return-value]
    if kind is float and math.isfinite(value):  # type: ignore[arg-type]
        return value  # type: ignore[return-value]
    return _cap(_repr(value))


def _repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # a broken __repr__ (or an int too long for str()) must not raise
        return f"<{type(value).__name__} object>"


def _cap(text: str) -> str:
    if len(text) <= MAX_VALUE_CHARS:
        return text
    return text[: MAX_VALUE_CHARS - 1] + "…"
