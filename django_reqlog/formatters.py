"""Logging formatters: ECS 8.x, python-logstash v1 compatible, and a console line.

``format()`` is always ``dumps(self.format_to_dict(record))``; override
``format_to_dict`` to add or reshape fields. Formatting never raises: each
step degrades to a placeholder, and the JSON step falls back to ``repr``.
"""

from __future__ import annotations

import logging
import math
import socket
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, NamedTuple

from django_reqlog._json import dumps
from django_reqlog.conf import derived, register_cache_clearer
from django_reqlog.masking import core_masker, scrub_free_text
from django_reqlog.request_facts import RequestFacts
from django_reqlog.request_fields import (
    MAX_TEXT_FIELD,
    EventMessage,
    exception_fields,
    mask_route_params,
    request_fields,
)
from django_reqlog.request_id import get_request_id

try:
    from django_reqlog import _native
except ImportError:  # no compiled core on this platform: everything is formatted here
    _native = None  # type: ignore[assignment]

__all__ = ["ECS_VERSION", "ConsoleFormatter", "ECSFormatter", "LogstashFormatter"]

ECS_VERSION = "8.11.0"
MAX_EVENT_BYTES = 300 * 1024
_BIG_FIELDS_ECS = (
    ("http", "request", "body", "content"),
    ("http", "response", "body", "content"),
    ("error", "stack_trace"),
    ("reqlog", "request", "headers"),
    ("message",),
    ("url", "original"),
    ("url", "query"),
)

# Attributes every LogRecord has; anything else was passed through ``extra``.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}
_OURS = frozenset({"reqlog", "event_id", "reqlog_shipper", "request_id"})
# RequestContextFilter's attributes: ECS has a home for them (flat in Logstash).
_ECS_IDS = (("trace_id", "trace"), ("span_id", "span"))
_ECS_PLACED = _OURS | {attr for attr, _ in _ECS_IDS}


_iso_second: tuple[int, str] = (-1, "")


def _iso(created: float) -> str:
    """``created`` as ISO 8601 UTC with milliseconds (``2026-01-02T03:04:05.678Z``).

    Events come in bursts within the same second, so the formatted
    date-and-time part is reused; the rounding is ``datetime.fromtimestamp``'s.
    """
    global _iso_second  # noqa: PLW0603 - a one-entry cache, replaced atomically
    frac, whole = math.modf(created)
    micros = round(frac * 1e6)
    second = int(whole)
    if micros >= 1_000_000:
        second += 1
        micros -= 1_000_000
    if micros < 0 or second < 0:
        moment = datetime.fromtimestamp(created, tz=timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    cached_second, prefix = _iso_second
    if cached_second != second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
        _iso_second = (second, prefix)
    return f"{prefix}{micros // 1000:03d}Z"


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # bad %-args must not cost the event
        return f"{record.msg!r} % {record.args!r}"


def _stack(record: logging.LogRecord) -> str | None:
    """The traceback text, masked: exception messages quote request data."""
    text = record.exc_text
    if not text and record.exc_info and record.exc_info[0] is not None:
        try:
            text = "".join(traceback.format_exception(*record.exc_info))
        except Exception:
            return None
    return scrub_free_text(text) if text else None


def _facts(record: logging.LogRecord) -> RequestFacts | None:
    facts = getattr(record, "reqlog", None)
    return facts if isinstance(facts, RequestFacts) else None


def _fields(facts: RequestFacts) -> dict[str, Any] | None:
    try:
        return request_fields(facts)
    except Exception as exc:  # one odd request must not cost the event
        from django_reqlog._stderr import warn

        warn(f"could not build request fields: {exc!r}", key="request_fields")
        return None


class _JSONFormatter(logging.Formatter):
    def format_to_dict(self, record: logging.LogRecord) -> dict[str, Any]:
        raise NotImplementedError

    def format(self, record: logging.LogRecord) -> str:
        if type(self).format_to_dict is self._own_format_to_dict():
            line = self._core_format(record)
            if line is not None:
                return line
        try:
            data = self.format_to_dict(record)
        except Exception as exc:
            data = {
                "@timestamp": _iso(record.created),
                "message": _message(record),
                "reqlog_format_error": repr(exc),
            }
        line = dumps(data)
        if len(line) > MAX_EVENT_BYTES // 4 and len(line.encode("utf-8")) > MAX_EVENT_BYTES:
            line = dumps(self.shrink(data))
        return line

    def shrink(self, data: dict[str, Any]) -> dict[str, Any]:
        """Trim the bulkiest fields so the event stays under MAX_EVENT_BYTES."""
        for limit in (64 * 1024, MAX_TEXT_FIELD, 256):
            for path in self._big_fields():
                _trim(data, path, limit)
            if len(dumps(data).encode("utf-8")) <= MAX_EVENT_BYTES:
                break
        return data

    def _big_fields(self) -> tuple[tuple[str, ...], ...]:
        return _BIG_FIELDS_ECS

    def _core_format(self, record: logging.LogRecord) -> str | None:
        """A request record's line from the compiled core; None where it
        declines or is not there, and the dict path formats the record."""
        if _facts(record) is None:
            return None  # an application's own record: the core formats only requests
        try:
            core = _events_core()
            return None if core is None else self._core_line(core, record)
        except Exception:  # an attribute of an unexpected type: the dict path copes
            return None

    @staticmethod
    def _own_format_to_dict() -> Callable[..., dict[str, Any]] | None:
        """The ``format_to_dict`` the compiled core stands in for."""
        return None

    def _core_line(self, core: Any, record: logging.LogRecord) -> str | None:
        """The whole line from the compiled core, or None where it declines."""
        return None


def _trim(data: dict[str, Any], path: tuple[str, ...], limit: int) -> None:
    parent: Any = data
    for key in path[:-1]:
        parent = parent.get(key) if isinstance(parent, dict) else None
        if parent is None:
            return
    if not isinstance(parent, dict) or path[-1] not in parent:
        return
    value = parent[path[-1]]
    if isinstance(value, str) and len(value) > limit:
        parent[path[-1]] = value[:limit] + "…[truncated]"
    elif isinstance(value, dict) and len(dumps(value)) > limit:
        parent[path[-1]] = {"_truncated": True}


def _put(target: dict[str, Any], dotted: str, value: Any) -> None:
    if value is not None:
        _put_path(target, _split(dotted), value)


_SPLIT: dict[str, tuple[str, ...]] = {}


def _split(dotted: str) -> tuple[str, ...]:
    path = _SPLIT.get(dotted)
    if path is None:
        path = tuple(dotted.split("."))
        if len(_SPLIT) < 1024:  # field names are a small fixed set; extras may not be
            _SPLIT[dotted] = path
    return path


def _put_path(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    if value is None:
        return
    node = target
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[path[-1]] = value


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` without its None entries (absent facts are left out, not null)."""
    return {key: value for key, value in values.items() if value is not None}


class Place(NamedTuple):
    """Where one request field goes in an output format, and in what form.

    ``path`` is a dotted ECS path or a flat python-logstash v1 name;
    ``field`` a key of ``request_fields()``, or None for the ``fixed`` value.
    ``form`` says how the value is written: as it is (""), as an ISO 8601
    time ("iso", from epoch seconds), as milliseconds rounded to three places
    ("ms", from nanoseconds), or as ECS's ``event.type`` list ("event_type",
    from the status). A field that is absent (None) is left out, and so is
    one whose ``only_with`` field is absent.
    """

    path: str
    field: str | None = None
    form: str = ""
    fixed: str | tuple[str, ...] | None = None
    only_with: str | None = None


def _event_types(status: int) -> list[str]:
    return ["access", "error"] if status >= 500 else ["access"]


_FORMS: dict[str, Callable[[Any], Any]] = {
    "": lambda value: value,
    "iso": _iso,
    "ms": lambda ns: round(ns / 1e6, 3),
    "event_type": _event_types,
}

# ECS: fields without an ECS home go under reqlog.*. Entries under one
# parent object are kept together, so the order of this table is the order
# of the output.
ECS_PLACEMENT = (
    Place("event.kind", fixed="event"),
    Place("event.category", fixed=("web",)),
    Place("event.type", "status", "event_type"),
    Place("event.dataset", fixed="django.reqlog"),
    Place("event.module", fixed="django"),
    Place("event.duration", "duration_ns"),
    Place("event.start", "start", "iso"),
    Place("event.end", "end", "iso"),
    Place("event.outcome", "outcome"),
    Place("http.version", "http_version"),
    Place("http.request.id", "request_id"),
    Place("http.request.method", "method"),
    Place("http.request.mime_type", "request_content_type"),
    Place("http.request.referrer", "referer"),
    Place("http.request.body.content", "request_body"),
    Place("http.request.body.bytes", "request_body_bytes"),
    Place("http.response.status_code", "status"),
    Place("http.response.mime_type", "response_content_type"),
    Place("http.response.body.bytes", "response_bytes"),
    Place("http.response.body.content", "response_body"),
    Place("url.path", "path"),
    Place("url.query", "query"),
    Place("url.original", "url_original"),
    Place("url.full", "url_full"),
    Place("url.scheme", "scheme"),
    Place("url.domain", "domain"),
    Place("url.port", "port"),
    Place("client.ip", "client_ip"),
    Place("client.port", "client_port", only_with="client_ip"),
    Place("source.ip", "peer_ip"),
    Place("source.port", "peer_port", only_with="peer_ip"),
    Place("user.id", "user_id"),
    Place("user.name", "username"),
    Place("user_agent.original", "user_agent"),
    Place("trace.id", "trace_id"),
    Place("span.id", "span_id"),
    Place("transaction.id", "transaction_id", only_with="span_id"),
    Place("reqlog.route", "route"),
    Place("reqlog.view", "view"),
    Place("reqlog.slow", "slow"),
    Place("reqlog.sample_rate", "sample_rate"),
    Place("reqlog.sample_weight", "sample_weight"),
    Place("reqlog.parent_span_id", "parent_span_id"),
    Place("reqlog.labels_dropped", "labels_dropped"),
    Place("reqlog.request.body.truncated", "request_body_truncated"),
    Place("reqlog.request.body.kind", "request_body_kind"),
    Place("reqlog.request.body.unread", "request_body_unread"),
    Place("reqlog.request.headers", "headers"),
    Place("reqlog.response.body.truncated", "response_body_truncated"),
    Place("reqlog.response.aborted", "response_aborted"),
    Place("reqlog.proxy_chain", "proxy_chain"),
    Place("reqlog.db.queries", "db_queries"),
    Place("reqlog.db.duration", "db_duration_ns"),
    Place("reqlog.db.slowest", "db_slowest_ns"),
    Place("reqlog.db.slowest_statement", "db_slowest_statement"),
    Place("labels", "labels"),
)

# python-logstash v1: flat names after the envelope.
LOGSTASH_PLACEMENT = (
    Place("client", "client_ip"),
    Place("client_port", "client_port"),
    Place("peer_ip", "peer_ip"),
    Place("peer_port", "peer_port"),
    Place("proxy_chain", "proxy_chain"),
    Place("username", "username"),
    Place("user_id", "user_id"),
    Place("request_method", "method"),
    Place("request_url", "url_original"),
    Place("request_url_full", "url_full"),
    Place("request_path", "path"),
    Place("query_string", "query"),
    Place("scheme", "scheme"),
    Place("http_host", "domain"),
    Place("http_version", "http_version"),
    Place("request_body", "request_body"),
    Place("request_body_bytes", "request_body_bytes"),
    Place("request_body_truncated", "request_body_truncated"),
    Place("request_body_kind", "request_body_kind"),
    Place("request_body_unread", "request_body_unread"),
    Place("request_content_type", "request_content_type"),
    Place("status", "status"),
    Place("response_bytes", "response_bytes"),
    Place("response_body", "response_body"),
    Place("response_body_truncated", "response_body_truncated"),
    Place("response_content_type", "response_content_type"),
    Place("response_aborted", "response_aborted"),
    Place("duration_ns", "duration_ns"),
    Place("request_id", "request_id"),
    Place("event_id", "event_id"),
    Place("trace_id", "trace_id"),
    Place("span_id", "span_id"),
    Place("transaction_id", "transaction_id"),
    Place("parent_span_id", "parent_span_id"),
    Place("route", "route"),
    Place("view", "view"),
    Place("user_agent", "user_agent"),
    Place("referer", "referer"),
    Place("request_headers", "headers"),
    Place("outcome", "outcome"),
    Place("slow", "slow"),
    Place("sample_rate", "sample_rate"),
    Place("sample_weight", "sample_weight"),
    Place("duration_ms", "duration_ns", "ms"),
    Place("event_start", "start", "iso"),
    Place("event_end", "end", "iso"),
    Place("db_queries", "db_queries"),
    Place("db_duration_ns", "db_duration_ns"),
    Place("db_duration_ms", "db_duration_ns", "ms"),
    Place("db_slowest_ns", "db_slowest_ns"),
    Place("db_slowest_statement", "db_slowest_statement"),
)

# Every name the Logstash form may write at the top level: a bound label
# with one of these names would clobber (or be clobbered by) a field, so it
# is dropped and counted instead.
LOGSTASH_RESERVED = frozenset(
    {
        *(entry.path for entry in LOGSTASH_PLACEMENT),
        *("@timestamp", "@version", "message", "host", "path", "tags", "type", "level"),
        *("logger_name", "reqlog_shipper", "error_type", "error_message", "stack_trace"),
        *("lineno", "process", "thread_name", "labels_dropped"),
    }
)


def place_labels_flat(doc: dict[str, Any], fields: dict[str, Any]) -> None:
    """The bound labels at the top level (python-logstash v1's place for
    extra fields), those with a reserved name dropped, and the count of all
    dropped as ``labels_dropped``."""
    dropped = fields["labels_dropped"] or 0
    for key, value in (fields["labels"] or {}).items():
        if key in LOGSTASH_RESERVED:
            dropped += 1
        else:
            doc[key] = value
    if dropped:
        doc["labels_dropped"] = dropped


def place(
    doc: dict[str, Any],
    table: tuple[Place, ...],
    fields: dict[str, Any],
    *,
    drop_empty: bool = False,
) -> None:
    """Put ``fields`` into ``doc`` as ``table`` says; with ``drop_empty`` an
    empty object counts as absent too (ECS never holds one)."""
    for entry in table:
        if entry.field is None:
            value: Any = list(entry.fixed) if isinstance(entry.fixed, tuple) else entry.fixed
        else:
            value = fields[entry.field]
            if value is None or (entry.only_with and fields[entry.only_with] is None):
                continue
            value = _FORMS[entry.form](value)
        if value is None or (drop_empty and value == {}):
            continue
        _put_path(doc, _split(entry.path), value)


# -- the compiled core -----------------------------------------------------------

# Attributes a request record may carry for the core to format it: more
# would be extra fields, which the formatters place from the record.
_CORE_RECORD_KEYS = _STANDARD_ATTRS | _OURS
_EVENTS: list[Any] = []  # the core for the current settings; rebuilt after a change


def _events_core() -> Any:
    """The compiled core that formats whole request events, or None: not
    built, switched off (``REQLOG_NATIVE=0``), or a REQLOG_REDACT_CALLBACK
    is set (it needs the Python dict of fields)."""
    if not _EVENTS:
        _EVENTS.append(_new_events_core())
    return _EVENTS[0]


def _new_events_core() -> Any:
    masker = core_masker()
    if masker is None or derived.redact_callback is not None:
        return None
    trusted = [(n.version, int(n.network_address), n.prefixlen) for n in derived.trusted_networks]
    return _native.Events(
        masker,
        trusted,
        core_table(ECS_PLACEMENT),
        core_table(LOGSTASH_PLACEMENT),
        sorted(LOGSTASH_RESERVED),
        mask_route_params,
        EventMessage,
        RequestFacts,
        _CORE_RECORD_KEYS,
    )


def core_table(
    table: tuple[Place, ...],
) -> list[tuple[list[str], str | None, str, str | None, str | None]]:
    """A placement table as the compiled core takes it: fixed values as JSON."""
    return [
        (
            entry.path.split("."),
            entry.field,
            entry.form,
            None if entry.field is not None else dumps(entry.fixed),
            entry.only_with,
        )
        for entry in table
    ]


register_cache_clearer(_EVENTS.clear)


def _ecs_ids(doc: dict[str, Any], record: logging.LogRecord) -> None:
    """An application record's trace and span (from ``RequestContextFilter``)."""
    for attr, key in _ECS_IDS:
        value = getattr(record, attr, None)
        if value is not None and value not in ("", "-"):
            doc[key] = {"id": value}


class ECSFormatter(_JSONFormatter):
    """Elastic Common Schema 8.x, nested objects, ``@timestamp`` first.

    Fields without an ECS home go under ``reqlog.*``. Arguments:
    ``service_name`` sets ``service.name``; ``extra_namespace`` is where other
    ``extra=`` attributes of ordinary records are kept (``None`` drops them).
    """

    def __init__(
        self,
        fmt: str | None = None,
        datefmt: str | None = None,
        style: Any = "%",
        validate: bool = True,
        *,
        service_name: str | None = None,
        extra_namespace: str | None = "labels",
    ) -> None:
        super().__init__(fmt, datefmt, style, validate)
        if service_name is not None and not isinstance(service_name, str):
            raise TypeError("service_name must be a string")
        if extra_namespace is not None and not isinstance(extra_namespace, str):
            raise TypeError("extra_namespace must be a string or None")
        self.service_name = service_name
        self.extra_namespace = extra_namespace
        self.hostname = socket.gethostname()

    def format_to_dict(self, record: logging.LogRecord) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "@timestamp": _iso(record.created),
            "log.level": record.levelname.lower(),
            "message": _message(record),
            "ecs": {"version": ECS_VERSION},
            "log": {
                "logger": record.name,
                "origin": {
                    "file": _compact({"name": record.filename, "line": record.lineno}),
                    "function": record.funcName,
                },
            },
            "process": _compact({"pid": record.process, "thread": {"name": record.threadName}}),
            "host": {"hostname": self.hostname},
        }
        if self.service_name is not None:
            doc["service"] = {"name": self.service_name}
        event: dict[str, Any] = {}
        doc["event"] = event
        event_id = getattr(record, "event_id", None)
        if event_id is not None:
            event["id"] = event_id
        facts = _facts(record)
        fields = _fields(facts) if facts is not None else None
        if fields is not None:
            place(doc, ECS_PLACEMENT, fields, drop_empty=True)
        else:
            request_id = getattr(record, "request_id", None) or get_request_id()
            if request_id and request_id != "-":
                doc["http"] = {"request": {"id": request_id}}
            _ecs_ids(doc, record)
        shipper = getattr(record, "reqlog_shipper", None)
        if isinstance(shipper, dict):
            event.update(kind="metric", action="shipper-health", dataset="django.reqlog")
            for key, value in shipper.items():
                _put(doc, f"reqlog.shipper.{key}", value)
        if not event:
            del doc["event"]
        if record.exc_info or record.exc_text:
            self._error(doc, record)
        if self.extra_namespace:
            self._extras(doc, record)
        return doc

    def _extras(self, doc: dict[str, Any], record: logging.LogRecord) -> None:
        """Other ``extra=`` attributes of the record, under ``extra_namespace``."""
        extras = {
            k: v
            for k, v in vars(record).items()
            if k not in _STANDARD_ATTRS and k not in _ECS_PLACED and not k.startswith("_")
        }
        if extras and self.extra_namespace:
            placed = doc.get(self.extra_namespace) if "." not in self.extra_namespace else None
            if isinstance(placed, dict):  # a request's bound labels: they win
                extras.update(placed)
            _put(doc, self.extra_namespace, extras)

    @staticmethod
    def _own_format_to_dict() -> Callable[..., dict[str, Any]] | None:
        return ECSFormatter.format_to_dict

    def _core_line(self, core: Any, record: logging.LogRecord) -> str | None:
        return core.ecs(record, self.hostname, self.service_name, bool(self.extra_namespace))  # type: ignore[no-any-return]

    @staticmethod
    def _error(out: dict[str, Any], record: logging.LogRecord) -> None:
        error = exception_fields(record.exc_info)
        stack = _stack(record)
        if error is not None:
            _put(out, "error.type", error["type"])
            _put(out, "error.message", error["message"])
        if stack is not None:
            _put(out, "error.stack_trace", stack)


_EASY_TYPES = (str, bool, dict, float, int, list, type(None))


class LogstashFormatter(_JSONFormatter):
    """python-logstash ``LogstashFormatterVersion1``'s envelope, plus request fields.

    Accepts python-logstash's own arguments (``message_type``, ``tags``,
    ``fqdn``) so it can replace it in an existing ``LOGGING`` config.
    """

    def __init__(
        self,
        message_type: str = "Logstash",
        tags: list[str] | None = None,
        fqdn: bool = False,
        *,
        fmt: str | None = None,
        datefmt: str | None = None,
    ) -> None:
        super().__init__(fmt, datefmt)
        if not isinstance(message_type, str):
            raise TypeError("message_type must be a string")
        if tags is not None and not (
            isinstance(tags, (list, tuple)) and all(isinstance(t, str) for t in tags)
        ):
            raise TypeError("tags must be a list of strings")
        self.message_type = message_type
        self.tags = list(tags) if tags is not None else []
        self.host = socket.getfqdn() if fqdn else socket.gethostname()

    def format_to_dict(self, record: logging.LogRecord) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "@timestamp": _iso(record.created),
            "@version": "1",
            "message": _message(record),
            "host": self.host,
            "path": record.pathname,
            "tags": self.tags,
            "type": self.message_type,
            "level": record.levelname,
            "logger_name": record.name,
        }
        facts = _facts(record)
        fields = _fields(facts) if facts is not None else None
        if fields is not None:
            place(doc, LOGSTASH_PLACEMENT, fields)
            place_labels_flat(doc, fields)
        else:
            event_id = getattr(record, "event_id", None)
            if event_id is not None:
                doc["event_id"] = event_id
            request_id = getattr(record, "request_id", None) or get_request_id()
            if request_id and request_id != "-":
                doc["request_id"] = request_id
        shipper = getattr(record, "reqlog_shipper", None)
        if isinstance(shipper, dict):
            doc["reqlog_shipper"] = shipper
        for key, value in vars(record).items():
            if key in _STANDARD_ATTRS or key in _OURS or key in doc or key.startswith("_"):
                continue
            doc[key] = value if isinstance(value, _EASY_TYPES) else repr(value)
        if record.exc_info:
            error = exception_fields(record.exc_info)
            if error is not None:
                doc["error_type"] = error["type"]
                doc["error_message"] = error["message"]
            doc["stack_trace"] = _stack(record)
            doc["lineno"] = record.lineno
            doc["process"] = record.process
            doc["thread_name"] = record.threadName
        return doc

    @staticmethod
    def _own_format_to_dict() -> Callable[..., dict[str, Any]] | None:
        return LogstashFormatter.format_to_dict

    def _core_line(self, core: Any, record: logging.LogRecord) -> str | None:
        return core.logstash(record, self.host, self.tags, self.message_type)  # type: ignore[no-any-return]

    def _big_fields(self) -> tuple[tuple[str, ...], ...]:
        return (
            ("request_body",),
            ("response_body",),
            ("stack_trace",),
            ("request_headers",),
            ("message",),
            ("request_url",),
            ("query_string",),
        )


class ConsoleFormatter(logging.Formatter):
    """A short human line: ``GET /api/items/ 200 12.3ms user=alice ip=1.2.3.4 id=...``.

    Control characters are escaped so a hostile path cannot forge log lines.
    """

    def format(self, record: logging.LogRecord) -> str:
        facts = _facts(record)
        fields = _fields(facts) if facts is not None else None
        if fields is None:
            return _printable(super().format(record))
        line = (
            f"{fields['method']} {fields['url_original']} {fields['status']} "
            f"{fields['duration_ns'] / 1e6:.1f}ms user={fields['username'] or '-'} "
            f"ip={fields['client_ip'] or '-'} id={fields['request_id']}"
        )
        return _printable(line)


def _printable(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)
