"""Request events as they wait in a shipper's queue: flat tuples of plain values.

A queued LogRecord (its dict, its RequestFacts, its message object) is four
objects the garbage collector must track. Records that wait in the queue
outlive a young collection and get promoted, and enough promoted objects make
CPython run a full collection, which walks the whole heap of a Django process:
tens of milliseconds, on whichever request thread happens to allocate next.
A tuple holding only strings, numbers, bytes and None is dropped from the
collector's lists at its first collection, so a request event is queued as
one. This is copying, not formatting: nothing is parsed or masked here.

Two forms: a record that went through ``logging`` is kept with all its
attributes (``freeze``); an event the middleware hands straight to the
shippers (``request_event``) is kept as the facts plus what its record will
need, and the record is made when the worker takes it (``thaw``).
"""

from __future__ import annotations

import logging
from operator import attrgetter
from typing import Any

from django_reqlog._record import Origin, RequestRecord, Site, assemble_record
from django_reqlog.event import EventMessage, RequestFacts, record_extra

_TAG = "django_reqlog.frozen-request-event"
_DIRECT_TAG = "django_reqlog.request-event"
_FACT_NAMES = tuple(RequestFacts.__slots__)
_facts_values = attrgetter(*_FACT_NAMES)

Frozen = tuple[str, tuple[str, ...], tuple[Any, ...]]
Direct = tuple[str, Site, Origin, tuple[Any, ...]]


def request_event(site: Site, made: Origin, facts: RequestFacts) -> Direct:
    """A request event queued without a LogRecord: the record is made from
    this on the worker, exactly as ``make_record`` would have made it at
    ``site`` (see ``RequestLogMiddleware._emit`` for when that is allowed)."""
    return (_DIRECT_TAG, site, made, _plain_facts(facts))


def freeze(record: logging.LogRecord) -> logging.LogRecord | Frozen:
    """A request event as a flat tuple; any other record unchanged."""
    attrs = record.__dict__
    facts = attrs.get("reqlog")
    if (
        type(facts) is not RequestFacts
        or type(attrs.get("msg")) is not EventMessage
        or attrs.get("exc_info")  # tracebacks are kept as they are
    ):
        return record
    state = attrs.copy()
    state["reqlog"] = _plain_facts(facts)
    state["msg"] = None
    return (_TAG, tuple(state), tuple(state.values()))


_HEADERS = _FACT_NAMES.index("headers")
_SENSITIVE_POST = _FACT_NAMES.index("sensitive_post")


def _plain_facts(facts: RequestFacts) -> tuple[Any, ...]:
    values = _facts_values(facts)
    if facts.headers is None and facts.sensitive_post is None:
        return values
    # A list or a frozenset would keep the whole tuple tracked: tuples instead.
    plain = list(values)
    if facts.headers is not None:
        plain[_HEADERS] = tuple(facts.headers)
    if facts.sensitive_post is not None:
        plain[_SENSITIVE_POST] = tuple(sorted(facts.sensitive_post))
    return tuple(plain)


def is_frozen(obj: object) -> bool:
    return type(obj) is tuple and len(obj) in (3, 4) and obj[0] in (_TAG, _DIRECT_TAG)


def thaw(obj: object) -> logging.LogRecord | None:
    """The record again, from a queued object; None for anything else."""
    if isinstance(obj, logging.LogRecord):
        return obj
    if not is_frozen(obj):
        return None
    assert isinstance(obj, tuple)
    if obj[0] == _DIRECT_TAG:
        facts = _facts(obj[3])
        return assemble_record(obj[1], obj[2], EventMessage(facts), record_extra(facts))
    return _record(obj[1], obj[2])


def _facts(values: tuple[Any, ...]) -> RequestFacts:
    facts = RequestFacts(**dict(zip(_FACT_NAMES, values, strict=True)))
    if facts.headers is not None:
        facts.headers = [(name, value) for name, value in facts.headers]
    if facts.sensitive_post is not None:
        facts.sensitive_post = frozenset(facts.sensitive_post)
    return facts


def _record(keys: tuple[str, ...], values: tuple[Any, ...]) -> logging.LogRecord:
    state = dict(zip(keys, values, strict=True))
    facts = _facts(state["reqlog"])
    state["reqlog"] = facts
    state["msg"] = EventMessage(facts)
    record = RequestRecord()
    record.__dict__.update(state)
    return record
