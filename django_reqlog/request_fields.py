"""The formatting-time step that turns a request's raw facts into safe,
masked, capped fields, shared by every formatter (and the compiled core's
Python counterpart)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django_reqlog.client_ip import is_port, parse_ip, resolve_client_ip
from django_reqlog.conf import derived
from django_reqlog.masking import (
    REDACTED,
    also_sensitive_fields,
    is_sensitive_key,
    mask_json_text,
    mask_pairs,
    normalise_key,
    scrub_free_text,
    scrub_text,
    scrub_value,
)
from django_reqlog.query_stats import mask_sql
from django_reqlog.request_facts import RequestFacts

MAX_HEADER_VALUE = 8 * 1024
MAX_HEADERS = 100
MAX_TEXT_FIELD = 8 * 1024  # path, query, user agent and other single values


class EventMessage:
    """A request record's message, rendered from masked fields only when formatted."""

    __slots__ = ("facts",)

    def __init__(self, facts: RequestFacts) -> None:
        self.facts = facts

    def __str__(self) -> str:
        fields = request_fields(self.facts)
        return f"{fields['method']} {fields['url_original']} {fields['status']}"

    def __repr__(self) -> str:
        return f"<request event {self.facts.event_id}>"


def request_fields(facts: RequestFacts) -> dict[str, Any]:
    """Safe, masked fields for one request; computed once per event and shared
    by every formatter that sees the record."""
    cached = facts._fields
    if cached is None:
        cached = _build(facts)
        callback = derived.redact_callback
        if callback is not None:
            try:
                cached = callback(dict(cached))
            except Exception as exc:  # a user hook must not lose the event
                from django_reqlog._stderr import warn

                warn(f"REQLOG_REDACT_CALLBACK failed: {exc!r}; event kept with built-in masking")
                cached = _build(facts)
        facts._fields = cached
    return cached


def _build(facts: RequestFacts) -> dict[str, Any]:
    with also_sensitive_fields(facts.view_sensitive_fields):
        return {
            **_event_fields(facts),
            **_url_fields(facts),
            **_party_fields(facts),
            **_body_fields(facts),
            **_extra_fields(facts),
        }


def _event_fields(facts: RequestFacts) -> dict[str, Any]:
    """Identity, trace context, timing, outcome and sampling."""
    return {
        "event_id": facts.event_id,
        "request_id": facts.request_id,
        "trace_id": facts.trace_id,
        "span_id": facts.span_id,
        # This request is the service's transaction: its span is the transaction.
        "transaction_id": facts.span_id,
        "parent_span_id": facts.parent_span_id,
        "start": facts.started_at,
        "end": facts.started_at + facts.duration_ns / 1e9,
        "status": facts.status,
        "duration_ns": facts.duration_ns,
        "outcome": "failure" if facts.status >= 500 else "success",
        "slow": facts.slow,
        "sample_rate": facts.sample_rate,
        # How many requests this event stands for: what dashboards sum.
        "sample_weight": 1.0 / facts.sample_rate if facts.sample_rate > 0 else None,
    }


def _url_fields(facts: RequestFacts) -> dict[str, Any]:
    query = _mask_query(facts.query_string)
    path = facts.path
    if facts.route_kwargs:
        path = mask_route_params(path, facts.route or "", facts.route_kwargs)
    path = _masked_text(path)
    url_original = f"{path}?{query}" if query else path
    host, _, port = facts.host.rpartition(":") if _has_port(facts.host) else (facts.host, "", "")
    return {
        "method": _cap(facts.method, 32),
        "scheme": facts.scheme,
        "domain": _cap(host, 255) or None,
        "port": _port_number(port),
        "path": path,
        "query": query or None,
        "url_original": url_original,
        "url_full": _url_full(facts.scheme, facts.host, url_original),
        "http_version": facts.http_version.removeprefix("HTTP/") or None,
        "route": facts.route,
        "view": facts.view,
    }


def _party_fields(facts: RequestFacts) -> dict[str, Any]:
    """Who sent the request, through what, and with which headers."""
    client_ip, chain, peer_ip = _addresses(facts.remote_addr, facts.forwarded_for)
    peer_port = _port_number(facts.remote_port)
    return {
        "client_ip": client_ip,
        # The client's port is the peer's, unless the client came from X-Forwarded-For.
        "client_port": peer_port if client_ip is not None and client_ip == peer_ip else None,
        "peer_ip": peer_ip,
        "peer_port": peer_port,
        "proxy_chain": chain if facts.forwarded_for else None,
        "user_id": facts.user_id,
        "username": _cap(facts.username, 256) if facts.username is not None else None,
        "user_agent": _masked_text(facts.user_agent) or None,
        "referer": _mask_url(_cap(facts.referer)) or None,
        "headers": _headers(facts.headers) if facts.headers is not None else None,
    }


def _body_fields(facts: RequestFacts) -> dict[str, Any]:
    if facts.body_omitted:
        body, kind, truncated = None, "omitted" if facts.body_bytes else "empty", False
    else:
        body, kind, truncated = _body(
            facts.body_prefix,
            facts.body_bytes,
            facts.content_type,
            facts.content_encoding,
            facts.sensitive_post,
            parts=facts.body_parts,
        )
    response_body, _, response_truncated = _body(
        facts.response_body_prefix,
        facts.response_bytes,
        facts.response_content_type,
        "",
        None,
    )
    return {
        "request_content_type": _cap(facts.content_type, 256) or None,
        "request_body": body,
        "request_body_bytes": facts.body_bytes,
        "request_body_truncated": truncated,
        "request_body_kind": kind,
        "request_body_unread": facts.body_unread,
        "response_content_type": _cap(facts.response_content_type, 256) or None,
        "response_bytes": facts.response_bytes,
        "response_body": response_body,
        "response_body_truncated": (response_truncated or facts.response_truncated)
        if response_body is not None
        else None,
        "response_aborted": facts.response_aborted,
    }


def _extra_fields(facts: RequestFacts) -> dict[str, Any]:
    """The application's bound labels and the database query figures."""
    labels = None
    if facts.labels:
        labels = {key: _label_value(key, value) for key, value in facts.labels}
    sql = facts.db_slowest_sql
    return {
        "labels": labels,
        "labels_dropped": facts.labels_dropped or None,
        "db_queries": facts.db_queries,
        "db_duration_ns": facts.db_duration_ns,
        "db_slowest_ns": facts.db_slowest_ns,
        "db_slowest_statement": mask_sql(sql, scrub_text) if sql is not None else None,
    }


def _label_value(key: str, value: str | int | float | bool) -> str | int | float | bool:
    """A bound value masked like a form value; a number whose digits hold a
    secret shape (a card number) becomes the placeholder."""
    if is_sensitive_key(key):
        return REDACTED
    if isinstance(value, str):
        return scrub_value(value)
    if isinstance(value, bool):
        return value
    text = str(value)
    return REDACTED if scrub_text(text) != text else value


def _url_full(scheme: str, host: str, url_original: str) -> str | None:
    if not host:
        return None
    return f"{scheme or 'http'}://{_cap(host, 255)}{url_original}"


def _masked_text(text: str) -> str:
    """A path or user agent, capped and scrubbed of secret-shaped values."""
    return scrub_text(_cap(text))


def _addresses(remote_addr: str, forwarded_for: str) -> tuple[str | None, list[str], str | None]:
    """(client IP, proxy chain, peer IP)."""
    client_ip, chain = resolve_client_ip(remote_addr, forwarded_for, derived.trusted_networks)
    return client_ip, chain, _peer_ip(remote_addr)


def _peer_ip(remote_addr: str) -> str | None:
    address = parse_ip(remote_addr) if remote_addr else None
    return str(address) if address is not None else None


def _has_port(host: str) -> bool:
    return is_port(host.rpartition(":")[2]) and not host.endswith("]")


def _port_number(text: str) -> int | None:
    """A TCP port: one to five ASCII digits, at most 65535; anything else is none."""
    return int(text) if is_port(text) and len(text) <= 5 and int(text) <= 65535 else None


def _cap(text: str | None, limit: int = MAX_TEXT_FIELD) -> str:
    if not text:
        return ""
    return text if len(text) <= limit else text[:limit] + "…"


def _cap_bytes(text: str, limit: int) -> str:
    """At most ``limit`` bytes of UTF-8, the marker included."""
    if len(text) * 4 <= limit or len(text.encode("utf-8", "surrogatepass")) <= limit:
        return text
    cut = text.encode("utf-8", "surrogatepass")[: limit - len("…".encode())]
    return cut.decode("utf-8", "ignore") + "…"


def _mask_query(query_string: str) -> str:
    """A query string (or a URL fragment): its pairs masked and encoded again;
    one made of separators only is dropped."""
    pairs = parse_qsl(query_string[: MAX_TEXT_FIELD * 2], keep_blank_values=True)
    return _cap(urlencode(mask_pairs(pairs), safe="[]/:,", errors="backslashreplace"))


# Route parameters that name whose secret a path carries, masked in paths
# although they are not secrets under the key rules: the user part of
# Django's and django-allauth's password-reset links.
_PATH_ONLY_SENSITIVE = frozenset({"uidb64", "uidb36"})
_PATH_PARAMETER = re.compile(r"<(?:[^>:]+:)?([^>]+)>")  # <converter:name>, as path() writes it
_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>")


def mask_route_params(path: str, route: str, params: tuple[tuple[str, str], ...]) -> str:
    """``path`` with the text of each route parameter whose name is sensitive
    (``token``, ``key``, ``code``, ``uidb64``, ...) replaced by ``[REDACTED]``.

    The route is lined up with the path to find where each parameter sits;
    if that fails, every occurrence of a secret value is masked instead.
    """
    secret = {name for name, value in params if value and _sensitive_param(name)}
    if not secret:
        return path
    spans = _param_spans(path, route, dict(params))
    if spans is None:
        for name, value in params:
            if name in secret and value:
                path = path.replace(value, REDACTED)
        return path
    out: list[str] = []
    copied = 0
    for start, end in sorted(spans[name] for name in secret if name in spans):
        out.append(path[copied:start])
        out.append(REDACTED)
        copied = end
    out.append(path[copied:])
    return "".join(out)


def _sensitive_param(name: str) -> bool:
    return is_sensitive_key(name) or normalise_key(name) in _PATH_ONLY_SENSITIVE


def _param_spans(
    path: str, route: str, values: dict[str, str]
) -> dict[str, tuple[int, int]] | None:
    """Where each named route parameter's text lies in ``path``: the route
    becomes a regular expression whose parameters match exactly the text
    they captured. Handles ``path()`` routes, ``re_path()`` routes and both
    joined by ``include()``; None when the route does not line up."""
    regex_route = route.startswith("^") or "(?P<" in route
    pieces: list[str] = []
    pos = 0
    while pos < len(route):
        group = _NAMED_GROUP.match(route, pos)
        param = _PATH_PARAMETER.match(route, pos)
        if group is not None:
            end = _group_end(route, group.end())
            if end is None:
                return None
            pieces.append(_capture(group.group(1), values, route[pos:end]))
            pos = end
        elif param is not None:
            pieces.append(_capture(param.group(1), values, "[^/]+"))
            pos = param.end()
        else:
            char = route[pos]
            pieces.append(char if regex_route else re.escape(char))
            pos += 1
    try:
        match = re.search("".join(pieces).removeprefix("^"), path)
    except re.error:
        return None
    if match is None:
        return None
    return {name: match.span(name) for name in match.re.groupindex if match.group(name) is not None}


def _capture(name: str, values: dict[str, str], otherwise: str) -> str:
    value = values.get(name)
    if value is None:
        return otherwise
    return f"(?P<{name}>{re.escape(value)})"


def _group_end(pattern: str, pos: int) -> int | None:
    """The index just past the group whose body starts at ``pos``."""
    depth = 1
    in_class = False
    while pos < len(pattern):
        char = pattern[pos]
        if char == "\\":
            pos += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return pos + 1
        pos += 1
    return None


_USERINFO_PASSWORD = re.compile(r"(//[^/@:?#\s]*:)[^/@?#\s]*@")


def _mask_url(url: str) -> str:
    """A URL from a header (Referer): its query and fragment are masked like the
    request's own query (OAuth sends ``#access_token=...``), its userinfo password
    dropped, and the rest scrubbed for token-shaped values."""
    if not url:
        return ""
    base, has_query, query = url.partition("?")
    fragment = ""
    if has_query:
        query, has_fragment, fragment = query.partition("#")
    else:
        base, has_fragment, fragment = base.partition("#")
    masked = scrub_text(_USERINFO_PASSWORD.sub(rf"\1{REDACTED}@", base))
    if has_query:
        masked += "?" + _mask_query(query)
    if has_fragment:
        masked += "#" + _mask_query(fragment)
    return masked


def _headers(raw: list[tuple[str, str]]) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name, value in raw[:MAX_HEADERS]:
        key = name.lower()
        kept[key] = _header_value(key, value)
    return kept


def _header_value(key: str, value: str) -> str:
    if is_sensitive_key(key):
        return REDACTED
    # Mask first, then cut to the byte limit: a secret straddling the cut is
    # masked whole instead of leaving a prefix that no longer looks like one.
    window = value[: MAX_HEADER_VALUE * 2]
    if window.startswith(("http://", "https://", "/")):
        # Referer and friends: the query is masked like the request's own.
        window = _mask_url(window)
    return _cap_bytes(scrub_free_text(window), MAX_HEADER_VALUE)


_TEXTUAL_TYPES = re.compile(
    r"^(?:text/|application/(?:[\w.+-]*\+)?(?:json|xml|x-www-form-urlencoded|javascript|"
    r"x-ndjson|yaml|x-yaml|graphql|csv|problem\+json))",
    re.I,
)


def is_textual(content_type: str) -> bool:
    return bool(_TEXTUAL_TYPES.match(content_type.strip()))


def _body(
    prefix: bytes | None,
    total: int | None,
    content_type: str,
    content_encoding: str,
    sensitive_post: frozenset[str] | None,
    *,
    parts: tuple[tuple[bytes, int, bool], ...] | None = None,
) -> tuple[str | None, str, bool]:
    """Return ``(content, kind, truncated)`` for a captured body prefix."""
    if prefix is None:
        return None, "empty" if not total else "unread", False
    size = total if total is not None else len(prefix)
    truncated = size > len(prefix)
    if not prefix:
        return ("" if not size else None), "empty" if not size else "unread", truncated
    content, kind = _content(
        prefix,
        size,
        content_type=content_type,
        content_encoding=content_encoding,
        sensitive_post=sensitive_post,
        parts=parts,
    )
    return content, kind, truncated


def _content(
    prefix: bytes,
    size: int,
    *,
    content_type: str,
    content_encoding: str,
    sensitive_post: frozenset[str] | None,
    parts: tuple[tuple[bytes, int, bool], ...] | None,
) -> tuple[str, str]:
    """``(content, kind)`` of a non-empty captured body prefix, by its type."""
    mime = content_type.split(";", 1)[0].strip().lower()
    encoding = content_encoding.strip().lower()
    if encoding and encoding != "identity":
        return _placeholder("binary", content_type, size, encoding), "binary"
    if mime == "multipart/form-data":
        return _multipart(prefix, content_type, sensitive_post, parts), "multipart"
    if (mime and not is_textual(mime)) or (not mime and b"\x00" in prefix):
        return _placeholder("binary", content_type if mime else "", size), "binary"
    text = prefix.decode("utf-8", "replace")
    if "json" in mime or (not mime and text.lstrip()[:1] in ("{", "[")):
        return mask_json_text(text, sensitive_post), "json"
    if mime == "application/x-www-form-urlencoded":
        pairs = parse_qsl(text, keep_blank_values=True)
        return urlencode(
            mask_pairs(pairs, sensitive_post), safe="[]/:,", errors="backslashreplace"
        ), "form"
    return scrub_free_text(text), "text"


def _placeholder(kind: str, content_type: str, size: int, encoding: str = "") -> str:
    parts = [f"[{kind}", f"content_type={_cap(content_type, 128) or 'unknown'}"]
    if encoding:
        parts.append(f"encoding={_cap(encoding, 64)}")
    parts.append(f"bytes={size}]")
    return " ".join(parts)


_DISPOSITION_PARAM = re.compile(r';\s*(name|filename)\*?=(?:"((?:[^"\\]|\\.)*)"|([^;]*))', re.I)
_BOUNDARY = re.compile(r'boundary="?([^";]{1,200})"?', re.I)

# One multipart part: name, filename, content type, size, whether its end was
# seen, and its content as far as the captured prefix holds it.
_Part = tuple[str | None, str | None, str, int, bool, bytes | None]


def _multipart(
    prefix: bytes,
    content_type: str,
    sensitive_post: frozenset[str] | None,
    counted: tuple[tuple[bytes, int, bool], ...] | None,
) -> str:
    """Field names and values (masked) and file parts as placeholders.

    Sizes and names come from the parts counted as the body streamed past
    (``counted``), values from the captured prefix. A part whose end was
    never seen (the application left the body unread) shows ``bytes=>=N``;
    a field whose value lies beyond the prefix shows ``[not captured ...]``.
    """
    seen = _prefix_parts(prefix, content_type)
    if seen is None and counted is None:
        return _placeholder("multipart", content_type, len(prefix))
    parts = _merge_parts(seen or [], counted)
    fields: dict[str, list[str]] = {}
    everything = sensitive_post is not None and "__ALL__" in sensitive_post
    for name, filename, part_type, size, complete, data in parts:
        if name is None:
            continue
        size_text = f"{size}" if complete else f">={size}"
        if filename is not None or (part_type and not is_textual(part_type)):
            value = (
                f"[file filename={_cap(filename or '', 256)} "
                f"content_type={_cap(part_type, 128) or 'unknown'} bytes={size_text}]"
            )
        elif everything or is_sensitive_key(name) or (sensitive_post and name in sensitive_post):
            value = REDACTED
        elif data is None:
            value = f"[not captured bytes={size_text}]"
        else:
            value = scrub_value(_cap(data.decode("utf-8", "replace")))
        fields.setdefault(_cap(name, 256), []).append(value)
    compact = {key: values[0] if len(values) == 1 else values for key, values in fields.items()}
    return json.dumps(compact, ensure_ascii=False)


def _merge_parts(
    seen: list[_Part], counted: tuple[tuple[bytes, int, bool], ...] | None
) -> list[_Part]:
    """The counted parts (exact sizes, every part), each with its content from
    the prefix where the prefix reaches it; the prefix alone without a count."""
    if counted is None:
        return seen
    merged: list[_Part] = []
    for index, (head, size, complete) in enumerate(counted):
        name, filename, part_type = _part_headers(head.decode("utf-8", "replace"))
        data = seen[index][5] if index < len(seen) else None
        merged.append((name, filename, part_type, size, complete, data))
    return merged


def _prefix_parts(prefix: bytes, content_type: str) -> list[_Part] | None:
    """The parts in the captured prefix; the last may be cut off."""
    match = _BOUNDARY.search(content_type)
    if match is None:
        return None
    delimiter = b"--" + match.group(1).encode("latin-1", "replace")
    parts: list[_Part] = []
    for chunk in prefix.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, data = chunk.lstrip(b"\r\n").partition(b"\r\n\r\n")
        complete = bool(sep) and data.endswith(b"\r\n")
        data = data[:-2] if complete else data
        name, filename, part_type = _part_headers(head.decode("utf-8", "replace"))
        parts.append((name, filename, part_type, len(data), complete, data if sep else None))
    return parts


def _part_headers(headers: str) -> tuple[str | None, str | None, str]:
    """(name, filename, content type) from a part's header block."""
    name = filename = None
    part_type = ""
    for line in headers.split("\r\n"):
        lower = line.lower()
        if lower.startswith("content-disposition:"):
            for param in _DISPOSITION_PARAM.finditer(line):
                value = param.group(2) if param.group(2) is not None else param.group(3)
                if param.group(1).lower() == "name":
                    name = value.strip()
                else:
                    filename = value.strip()
        elif lower.startswith("content-type:"):
            part_type = line.split(":", 1)[1].strip()
    return name, filename, part_type


def exception_fields(exc_info: Any) -> dict[str, str] | None:
    """``error.*`` values from a record's exc_info; None when there is none."""
    if not exc_info or exc_info is True:
        return None
    exc_type, exc_value = exc_info[0], exc_info[1]
    if exc_type is None:
        return None
    return {
        "type": getattr(exc_type, "__qualname__", str(exc_type)),
        "message": scrub_free_text(_cap(str(exc_value), MAX_TEXT_FIELD)),
    }
