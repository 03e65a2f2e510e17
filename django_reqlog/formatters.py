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
from django_reqlog.redaction import scrub_free_text
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


# ECS field -> request field, in output order (after the constant event.* fields).
_ECS_REQUEST_FIELDS: tuple[tuple[tuple[str, ...], str], ...] = tuple(
    (tuple(dotted.split(".")), key)
    for dotted, key in (
        ("event.duration", "duration_ns"),
        ("event.outcome", "outcome"),
        ("http.version", "http_version"),
        ("http.request.method", "method"),
        ("http.request.id", "request_id"),
        ("http.request.mime_type", "request_content_type"),
        ("http.request.referrer", "referer"),
        ("http.request.body.content", "request_body"),
        ("http.request.body.bytes", "request_body_bytes"),
        ("http.response.status_code", "status"),
        ("http.response.mime_type", "response_content_type"),
        ("http.response.body.bytes", "response_bytes"),
        ("http.response.body.content", "response_body"),
        ("url.path", "path"),
        ("url.query", "query"),
        ("url.original", "url_original"),
        ("url.scheme", "scheme"),
        ("url.domain", "domain"),
        ("url.port", "port"),
        ("client.ip", "client_ip"),
        ("source.ip", "peer_ip"),
        ("user.id", "user_id"),
        ("user.name", "username"),
        ("user_agent.original", "user_agent"),
        ("trace.id", "trace_id"),
        ("reqlog.route", "route"),
        ("reqlog.view", "view"),
        ("reqlog.slow", "slow"),
        ("reqlog.request.body.truncated", "request_body_truncated"),
        ("reqlog.request.body.kind", "request_body_kind"),
        ("reqlog.response.body.truncated", "response_body_truncated"),
        ("reqlog.proxy_chain", "proxy_chain"),
        ("reqlog.request.headers", "headers"),
    )
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
        }
        out: dict[str, Any] = {}
        _put(out, "ecs.version", ECS_VERSION)
        _put(out, "log.logger", record.name)
        _put(out, "log.origin.file.name", record.filename)
        _put(out, "log.origin.file.line", record.lineno)
        _put(out, "log.origin.function", record.funcName)
        _put(out, "process.pid", record.process)
        _put(out, "process.thread.name", record.threadName)
        _put(out, "host.hostname", self.hostname)
        _put(out, "service.name", self.service_name)
        _put(out, "event.id", getattr(record, "event_id", None))
        request_id = getattr(record, "request_id", None) or get_request_id()
        if request_id and request_id != "-":
            _put(out, "http.request.id", request_id)
        facts = _facts(record)
        fields = _fields(facts) if facts is not None else None
        if fields is not None:
            self._request(out, fields)
        shipper = getattr(record, "reqlog_shipper", None)
        if isinstance(shipper, dict):
            _put(out, "event.kind", "metric")
            _put(out, "event.action", "shipper-health")
            _put(out, "event.dataset", "django.reqlog")
            for key, value in shipper.items():
                _put(out, f"reqlog.shipper.{key}", value)
        self._error(out, record)
        if self.extra_namespace:
            extras = {
                k: v
                for k, v in vars(record).items()
                if k not in _STANDARD_ATTRS and k not in _OURS and not k.startswith("_")
            }
            if extras:
                _put(out, self.extra_namespace, extras)
        # ``log.level`` stays dotted at the top, as ecs-logging writes it;
        # Elasticsearch merges it with the nested ``log`` object.
        doc.update(out)
        return doc

    @staticmethod
    def _request(out: dict[str, Any], f: dict[str, Any]) -> None:
        _put_path(out, ("event", "kind"), "event")
        _put_path(out, ("event", "category"), ["web"])
        _put_path(out, ("event", "type"), ["access", "error"] if f["status"] >= 500 else ["access"])
        _put_path(out, ("event", "dataset"), "django.reqlog")
        _put_path(out, ("event", "module"), "django")
        for path, key in _ECS_REQUEST_FIELDS:
            value = f[key]
            if value is not None:
                _put_path(out, path, value)

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
    ("peer_ip", "peer_ip"),
    ("proxy_chain", "proxy_chain"),
    ("username", "username"),
    ("user_id", "user_id"),
    ("request_method", "method"),
    ("request_url", "url_original"),
    ("request_path", "path"),
    ("query_string", "query"),
    ("scheme", "scheme"),
    ("http_host", "domain"),
    ("http_version", "http_version"),
    ("request_body", "request_body"),
    ("request_body_bytes", "request_body_bytes"),
    ("request_body_truncated", "request_body_truncated"),
    ("request_body_kind", "request_body_kind"),
    ("request_content_type", "request_content_type"),
    ("status", "status"),
    ("response_bytes", "response_bytes"),
    ("response_body", "response_body"),
    ("response_body_truncated", "response_body_truncated"),
    ("response_content_type", "response_content_type"),
    ("duration_ns", "duration_ns"),
    ("request_id", "request_id"),
    ("event_id", "event_id"),
    ("trace_id", "trace_id"),
    ("route", "route"),
    ("view", "view"),
    ("user_agent", "user_agent"),
    ("referer", "referer"),
    ("request_headers", "headers"),
    ("outcome", "outcome"),
    ("slow", "slow"),
)
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
            for name, key in _LOGSTASH_FIELDS:
                value = fields[key]
                if value is not None:
                    doc[name] = value
            doc["duration_ms"] = round(fields["duration_ns"] / 1e6, 3)
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
