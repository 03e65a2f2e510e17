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
from datetime import datetime, timezone
from typing import Any

from django_reqlog._json import dumps
from django_reqlog.event import MAX_TEXT_FIELD, RequestFacts, exception_fields, request_fields
from django_reqlog.masking import scrub_free_text
from django_reqlog.request_id import get_request_id

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


def _ecs_request(doc: dict[str, Any], event: dict[str, Any], f: dict[str, Any]) -> None:
    """Place one request's fields at their ECS paths; fields without an ECS
    home go under ``reqlog.*``. Written out by hand: this runs for every event."""
    event["kind"] = "event"
    event["category"] = ["web"]
    event["type"] = ["access", "error"] if f["status"] >= 500 else ["access"]
    event["dataset"] = "django.reqlog"
    event["module"] = "django"
    event["duration"] = f["duration_ns"]
    event["start"] = _iso(f["start"])
    event["end"] = _iso(f["end"])
    event["outcome"] = f["outcome"]
    _ecs_http(doc, f)
    _ecs_parties(doc, f)
    _ecs_reqlog(doc, f)


def _ecs_http(doc: dict[str, Any], f: dict[str, Any]) -> None:
    request = _compact(
        {
            "id": f["request_id"],
            "method": f["method"],
            "mime_type": f["request_content_type"],
            "referrer": f["referer"],
            "body": _compact({"content": f["request_body"], "bytes": f["request_body_bytes"]})
            or None,
        }
    )
    response = _compact(
        {
            "status_code": f["status"],
            "mime_type": f["response_content_type"],
            "body": _compact({"bytes": f["response_bytes"], "content": f["response_body"]}) or None,
        }
    )
    doc["http"] = _compact({"version": f["http_version"], "request": request, "response": response})
    doc["url"] = _compact(
        {
            "path": f["path"],
            "query": f["query"],
            "original": f["url_original"],
            "full": f["url_full"],
            "scheme": f["scheme"],
            "domain": f["domain"],
            "port": f["port"],
        }
    )


def _ecs_parties(doc: dict[str, Any], f: dict[str, Any]) -> None:
    """Client, peer, user, user agent and trace context."""
    if f["client_ip"] is not None:
        doc["client"] = _compact({"ip": f["client_ip"], "port": f["client_port"]})
    if f["peer_ip"] is not None:
        doc["source"] = _compact({"ip": f["peer_ip"], "port": f["peer_port"]})
    user = _compact({"id": f["user_id"], "name": f["username"]})
    if user:
        doc["user"] = user
    if f["user_agent"] is not None:
        doc["user_agent"] = {"original": f["user_agent"]}
    if f["trace_id"] is not None:
        doc["trace"] = {"id": f["trace_id"]}
    if f["span_id"] is not None:
        doc["span"] = {"id": f["span_id"]}
        doc["transaction"] = {"id": f["transaction_id"]}


def _ecs_ids(doc: dict[str, Any], record: logging.LogRecord) -> None:
    """An application record's trace and span (from ``RequestContextFilter``)."""
    for attr, key in _ECS_IDS:
        value = getattr(record, attr, None)
        if value is not None and value not in ("", "-"):
            doc[key] = {"id": value}


def _ecs_reqlog(doc: dict[str, Any], f: dict[str, Any]) -> None:
    body = _compact(
        {
            "truncated": f["request_body_truncated"],
            "kind": f["request_body_kind"],
            "unread": f["request_body_unread"],
        }
    )
    response = _compact(
        {
            "body": _compact({"truncated": f["response_body_truncated"]}) or None,
            "aborted": f["response_aborted"],
        }
    )
    doc["reqlog"] = _compact(
        {
            "route": f["route"],
            "view": f["view"],
            "slow": f["slow"],
            "sample_rate": f["sample_rate"],
            "sample_weight": f["sample_weight"],
            "parent_span_id": f["parent_span_id"],
            "request": _compact({"body": body or None, "headers": f["headers"] or None}) or None,
            "response": response or None,
            "proxy_chain": f["proxy_chain"],
        }
    )


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
            _ecs_request(doc, event, fields)
        else:
            request_id = getattr(record, "request_id", None) or get_request_id()
            if request_id and request_id != "-":
                doc["http"] = {"request": {"id": request_id}}
            _ecs_ids(doc, record)
        shipper = getattr(record, "reqlog_shipper", None)
        if isinstance(shipper, dict):
            event["kind"] = "metric"
            event["action"] = "shipper-health"
            event["dataset"] = "django.reqlog"
            for key, value in shipper.items():
                _put(doc, f"reqlog.shipper.{key}", value)
        if not event:
            del doc["event"]
        if record.exc_info or record.exc_text:
            self._error(doc, record)
        if self.extra_namespace:
            extras = {
                k: v
                for k, v in vars(record).items()
                if k not in _STANDARD_ATTRS and k not in _ECS_PLACED and not k.startswith("_")
            }
            if extras:
                _put(doc, self.extra_namespace, extras)
        return doc

    @staticmethod
    def _error(out: dict[str, Any], record: logging.LogRecord) -> None:
        error = exception_fields(record.exc_info)
        stack = _stack(record)
        if error is not None:
            _put(out, "error.type", error["type"])
            _put(out, "error.message", error["message"])
        if stack is not None:
            _put(out, "error.stack_trace", stack)


_LOGSTASH_FIELDS = (
    ("client", "client_ip"),
    ("client_port", "client_port"),
    ("peer_ip", "peer_ip"),
    ("peer_port", "peer_port"),
    ("proxy_chain", "proxy_chain"),
    ("username", "username"),
    ("user_id", "user_id"),
    ("request_method", "method"),
    ("request_url", "url_original"),
    ("request_url_full", "url_full"),
    ("request_path", "path"),
    ("query_string", "query"),
    ("scheme", "scheme"),
    ("http_host", "domain"),
    ("http_version", "http_version"),
    ("request_body", "request_body"),
    ("request_body_bytes", "request_body_bytes"),
    ("request_body_truncated", "request_body_truncated"),
    ("request_body_kind", "request_body_kind"),
    ("request_body_unread", "request_body_unread"),
    ("request_content_type", "request_content_type"),
    ("status", "status"),
    ("response_bytes", "response_bytes"),
    ("response_body", "response_body"),
    ("response_body_truncated", "response_body_truncated"),
    ("response_content_type", "response_content_type"),
    ("response_aborted", "response_aborted"),
    ("duration_ns", "duration_ns"),
    ("request_id", "request_id"),
    ("event_id", "event_id"),
    ("trace_id", "trace_id"),
    ("span_id", "span_id"),
    ("transaction_id", "transaction_id"),
    ("parent_span_id", "parent_span_id"),
    ("route", "route"),
    ("view", "view"),
    ("user_agent", "user_agent"),
    ("referer", "referer"),
    ("request_headers", "headers"),
    ("outcome", "outcome"),
    ("slow", "slow"),
    ("sample_rate", "sample_rate"),
    ("sample_weight", "sample_weight"),
)
_EASY_TYPES = (str, bool, dict, float, int, list, type(None))


def _logstash_request(doc: dict[str, Any], fields: dict[str, Any]) -> None:
    for name, key in _LOGSTASH_FIELDS:
        value = fields[key]
        if value is not None:
            doc[name] = value
    doc["duration_ms"] = round(fields["duration_ns"] / 1e6, 3)
    doc["event_start"] = _iso(fields["start"])
    doc["event_end"] = _iso(fields["end"])


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
            _logstash_request(doc, fields)
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
