"""Summarise captured request events: the engine behind ``manage.py reqlog_report``.

Reads ECS JSON lines (what ``ECSFormatter`` writes), python-logstash v1 lines
(what ``LogstashFormatter`` writes) or documents from Elasticsearch, and
computes status classes, error rate over time, latency percentiles per route,
top users and client IPs, and a masking proof. The engine knows nothing about
Django so it can be tested on hand-made lines.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import math
import os
import re
import sys
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

__all__ = [
    "DEFAULT_ES_INDEX",
    "REDACTED",
    "BadLines",
    "Progress",
    "ReportError",
    "RequestEvent",
    "Summary",
    "event_from_doc",
    "iter_elasticsearch",
    "iter_file_lines",
    "lookup",
    "parse_duration",
    "parse_since",
    "percentile",
    "render_text",
    "summarise",
]

# The placeholder the redaction step writes; counted as proof that masking ran.
REDACTED = "[REDACTED]"
# Both write targets `reqlog_setup` can create: the data stream, or the
# rollover alias on clusters without data streams (es_setup.DEFAULT_SEARCH_TARGET).
DEFAULT_ES_INDEX = "logs-django.reqlog-*,reqlog-events*"
_MISSING: Any = object()


class ReportError(Exception):
    """A problem the user can fix (missing file, unreachable cluster...)."""


# --------------------------------------------------------------------------- parsing


def lookup(doc: Any, dotted: str) -> Any:
    """Return ``doc[dotted]`` whether the document is nested, flat-dotted or mixed.

    ECS writers differ: some de-dot everything, some keep ``log.level`` flat
    next to nested objects, so every split of the path is tried.
    """
    parts = _split(dotted)
    # Fast path for the common, fully nested shape: this runs a dozen times
    # per line of files with millions of lines.
    obj = doc
    for part in parts:
        if type(obj) is dict and part in obj:
            obj = obj[part]
        else:
            break
    else:
        return obj
    value = _lookup(doc, list(parts))
    return None if value is _MISSING else value


@functools.lru_cache(maxsize=256)
def _split(dotted: str) -> tuple[str, ...]:
    return tuple(dotted.split("."))


def _lookup(obj: Any, parts: list[str]) -> Any:
    if not parts:
        return obj
    if not isinstance(obj, dict):
        return _MISSING
    for cut in range(len(parts), 0, -1):
        key = ".".join(parts[:cut])
        if key in obj:
            found = _lookup(obj[key], parts[cut:])
            if found is not _MISSING:
                return found
    return _MISSING


def _loads(raw: bytes) -> Any:
    """Parse one line; orjson when installed (several times faster), else json."""
    if _orjson_loads is not None:
        try:
            return _orjson_loads(raw)
        except ValueError:
            pass  # json accepts a few things orjson does not (NaN, huge ints)
    return json.loads(raw)


def _find_orjson() -> Callable[[bytes], Any] | None:
    try:
        import orjson
    except ImportError:  # an optional extra
        return None
    return orjson.loads


_orjson_loads = _find_orjson()


def parse_timestamp(value: Any) -> dt.datetime | None:
    """Parse an ISO 8601 timestamp into an aware UTC datetime, or ``None``."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> dt.timedelta:
    """Parse ``500ms``, ``30s``, ``15m``, ``2h``, ``1d`` or ``1w``."""
    match = _DURATION_RE.match(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 15m, 2h, 1d)")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    if seconds <= 0:
        raise ValueError(f"duration must be positive: {text!r}")
    return dt.timedelta(seconds=seconds)


def parse_since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """Turn ``15m`` / ``2h`` (relative to now) or an ISO timestamp into UTC."""
    try:
        window = parse_duration(text)
    except ValueError:
        parsed = parse_timestamp(text)
        if parsed is None:
            raise ValueError(
                f"--since {text!r} is neither a duration (15m, 2h, 1d) nor an ISO timestamp"
            ) from None
        return parsed
    return (now or dt.datetime.now(dt.timezone.utc)) - window


@dataclass(frozen=True)
class RequestEvent:
    """The few facts of one request event that the report needs."""

    timestamp: dt.datetime | None
    status: int
    duration_ms: float | None
    route: str
    method: str
    user: str | None
    client_ip: str | None
    slow: bool


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, (float, str)):
        try:
            return int(float(value))
        except ValueError:
            return None
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _as_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def event_from_doc(doc: Mapping[str, Any]) -> RequestEvent | None:
    """Extract a request event from an ECS or Logstash v1 document.

    Returns ``None`` for documents that are not request events (shipper
    metrics, ordinary log lines), which the report does not count.
    """
    if lookup(doc, "ecs.version") is not None or lookup(doc, "http.response.status_code"):
        return _from_ecs(doc)
    if "status" in doc or "request_path" in doc:
        return _from_logstash(doc)
    return None


def _from_ecs(doc: Mapping[str, Any]) -> RequestEvent | None:
    if lookup(doc, "event.kind") == "metric":
        return None
    status = _as_int(lookup(doc, "http.response.status_code"))
    if status is None:
        return None
    duration_ns = _as_float(lookup(doc, "event.duration"))
    return RequestEvent(
        timestamp=parse_timestamp(lookup(doc, "@timestamp")),
        status=status,
        duration_ms=None if duration_ns is None else duration_ns / 1_000_000,
        route=_as_text(lookup(doc, "reqlog.route"))
        or _as_text(lookup(doc, "url.path"))
        or "(unknown)",
        method=_as_text(lookup(doc, "http.request.method")) or "-",
        user=_as_text(lookup(doc, "user.name")) or _as_text(lookup(doc, "user.id")),
        client_ip=_as_text(lookup(doc, "client.ip")),
        slow=lookup(doc, "reqlog.slow") is True,
    )


def _from_logstash(doc: Mapping[str, Any]) -> RequestEvent | None:
    status = _as_int(doc.get("status"))
    if status is None:
        return None
    duration_ms = _as_float(doc.get("duration_ms"))
    if duration_ms is None:
        duration_ns = _as_float(doc.get("duration_ns"))
        duration_ms = None if duration_ns is None else duration_ns / 1_000_000
    return RequestEvent(
        timestamp=parse_timestamp(doc.get("@timestamp")),
        status=status,
        duration_ms=duration_ms,
        route=_as_text(doc.get("route")) or _as_text(doc.get("request_path")) or "(unknown)",
        method=_as_text(doc.get("request_method")) or "-",
        user=_as_text(doc.get("username")) or _as_text(doc.get("user_id")),
        client_ip=_as_text(doc.get("client")),
        slow=doc.get("slow") is True,
    )


# --------------------------------------------------------------------------- sources


class Progress:
    """A throttled progress indicator on a stream (stderr).

    On a terminal one line is redrawn in place; into a file or pipe, where
    carriage returns would pile up, a plain line is written every 10 %.
    """

    def __init__(self, stream: IO[str], label: str, total: int | None) -> None:
        self.stream = stream
        self.label = label
        self.total = total
        self.tty = _isatty(stream)
        self._last = 0.0
        self._last_step = -1
        self._shown = False

    def update(self, done: int, count: int, *, force: bool = False) -> None:
        now = time.monotonic()
        # Redrawing on every line would cost more than parsing it.
        if not force and now - self._last < 0.2:
            return
        self._last = now
        pct = min(100.0, 100.0 * done / self.total) if self.total else None
        if self.tty:
            self.stream.write(f"\r{self._text(pct, count)}")
        else:
            step = int(pct // 10) if pct is not None else int(count // 100_000)
            if step == self._last_step and not force:
                return
            self._last_step = step
            self.stream.write(f"{self._text(pct, count)}\n")
        self.stream.flush()
        self._shown = True

    def _text(self, pct: float | None, count: int) -> str:
        if pct is None:
            return f"{self.label}: {count:,} documents"
        return f"{self.label}: {pct:5.1f}% ({count:,} lines)"

    def finish(self, done: int, count: int) -> None:
        if self._shown:
            self.update(done, count, force=True)
            if self.tty:
                self.stream.write("\n")
            self.stream.flush()


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# Files at least this big get a progress indicator even when stderr is not a TTY.
LARGE_FILE_BYTES = 50 * 1024 * 1024


@dataclass
class BadLines:
    """Lines that could not be read, counted instead of aborting the report."""

    count: int = 0
    first: list[str] = field(default_factory=list)

    def add(self, where: str, reason: str) -> None:
        self.count += 1
        if len(self.first) < 5:
            self.first.append(f"{where}: {reason}")


def iter_file_lines(
    path: str,
    bad: BadLines,
    progress: bool | None = None,
    stream: IO[str] | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(raw_line, document)`` for each readable JSON object line of ``path``.

    Unreadable lines (bad UTF-8, bad JSON, not an object) are counted in
    ``bad``. ``progress=None`` shows progress only when the file is large or
    stderr is a terminal.
    """
    err = stream if stream is not None else sys.stderr
    try:
        size = os.path.getsize(path)
        handle = open(path, "rb")  # noqa: SIM115 - closed in the finally below
    except FileNotFoundError:
        raise ReportError(f"log file not found: {path}") from None
    except IsADirectoryError:
        raise ReportError(f"log file is a directory: {path}") from None
    except OSError as exc:
        raise ReportError(f"cannot open log file {path}: {exc.strerror or exc}") from None
    if progress is None:
        progress = size >= LARGE_FILE_BYTES or (_isatty(err) and size >= 1024 * 1024)
    meter = Progress(err, f"reading {path}", size) if progress else None
    done = count = 0
    try:
        for lineno, raw in enumerate(handle, start=1):
            done += len(raw)
            count += 1
            if meter is not None:
                meter.update(done, count)
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                bad.add(f"{path}:{lineno}", "not UTF-8")
                continue
            try:
                doc = _loads(raw)
            except ValueError as exc:
                bad.add(f"{path}:{lineno}", f"not JSON ({str(exc).split(':')[0]})")
                continue
            if not isinstance(doc, dict):
                bad.add(f"{path}:{lineno}", f"JSON {type(doc).__name__}, not an object")
                continue
            yield text, doc
    except OSError as exc:
        raise ReportError(f"error reading {path}: {exc.strerror or exc}") from None
    finally:
        handle.close()
        if meter is not None:
            meter.finish(done, count)


def iter_elasticsearch(
    client: Any,
    index: str,
    since: dt.datetime | None,
    *,
    page_size: int = 1000,
    progress: bool = False,
    stream: IO[str] | None = None,
    prefer_pit: bool = True,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(raw_json, source)`` for every document in ``index`` since ``since``.

    Uses a point in time with ``search_after`` so a long read sees one
    consistent snapshot; clusters without the point-in-time API get a scroll.
    """
    from elasticsearch import ApiError, NotFoundError, TransportError

    query: dict[str, Any] = (
        {"range": {"@timestamp": {"gte": since.isoformat()}}}
        if since is not None
        else {"match_all": {}}
    )
    meter = Progress(stream or sys.stderr, f"reading {index}", None) if progress else None
    count = 0
    try:
        with contextlib.suppress(ApiError):
            # Make the latest shipped events searchable; a reader without the
            # privilege still gets everything older than the refresh interval.
            client.indices.refresh(index=index, ignore_unavailable=True)
        for source in _search_all(client, index, query, page_size, prefer_pit):
            count += 1
            if meter is not None and count % page_size == 0:
                meter.update(count, count)
            yield json.dumps(source, ensure_ascii=False), source
    except NotFoundError as exc:
        if "index_not_found" not in str(getattr(exc, "body", "")) + str(exc):
            raise ReportError(f"Elasticsearch request failed: {_describe_es_error(exc)}") from None
        raise ReportError(
            f"index or data stream {index!r} not found: nothing has been shipped yet, "
            "or run `manage.py reqlog_setup` first"
        ) from None
    except (ApiError, TransportError) as exc:
        raise ReportError(f"Elasticsearch request failed: {_describe_es_error(exc)}") from None
    finally:
        if meter is not None:
            meter.finish(count, count)


def _search_all(
    client: Any, index: str, query: dict[str, Any], page_size: int, prefer_pit: bool
) -> Iterator[dict[str, Any]]:
    from elasticsearch import ApiError, NotFoundError

    if not prefer_pit:
        yield from _scroll_all(client, index, query, page_size)
        return
    try:
        pit = client.open_point_in_time(index=index, keep_alive="2m")["id"]
    except NotFoundError as exc:
        if "index_not_found" in str(getattr(exc, "body", "")) + str(exc):
            raise
        pit = None
    except ApiError:
        pit = None
    if pit is None:
        yield from _scroll_all(client, index, query, page_size)
        return
    search_after: list[Any] | None = None
    try:
        while True:
            body: dict[str, Any] = {
                "size": page_size,
                "query": query,
                "pit": {"id": pit, "keep_alive": "2m"},
                "sort": [{"@timestamp": "asc"}, {"_shard_doc": "asc"}],
            }
            if search_after is not None:
                body["search_after"] = search_after
            response = client.search(**body)
            pit = response.get("pit_id", pit)
            hits = response["hits"]["hits"]
            if not hits:
                return
            for hit in hits:
                yield hit.get("_source") or {}
            search_after = hits[-1]["sort"]
    finally:
        # Closing is a courtesy: an abandoned PIT expires on its own after keep_alive.
        with contextlib.suppress(Exception):
            client.close_point_in_time(id=pit)


def _scroll_all(
    client: Any, index: str, query: dict[str, Any], page_size: int
) -> Iterator[dict[str, Any]]:
    response = client.search(index=index, query=query, size=page_size, scroll="2m", sort=["_doc"])
    scroll_id = response.get("_scroll_id")
    try:
        while True:
            hits = response["hits"]["hits"]
            if not hits:
                return
            for hit in hits:
                yield hit.get("_source") or {}
            response = client.scroll(scroll_id=scroll_id, scroll="2m")
            scroll_id = response.get("_scroll_id", scroll_id)
    finally:
        if scroll_id:
            with contextlib.suppress(Exception):
                client.clear_scroll(scroll_id=scroll_id)


def _describe_es_error(exc: BaseException) -> str:
    status = getattr(getattr(exc, "meta", None), "status", None)
    message = getattr(exc, "message", None) or str(exc)
    return f"HTTP {status}: {message}" if status else str(message)


# --------------------------------------------------------------------------- summary


@dataclass
class Summary:
    """Everything the report shows, JSON-serialisable via :meth:`as_dict`."""

    sources: list[str]
    total_requests: int = 0
    other_documents: int = 0
    bad_lines: int = 0
    bad_line_examples: list[str] = field(default_factory=list)
    status_classes: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    bucket_seconds: float = 60.0
    timeline: list[dict[str, Any]] = field(default_factory=list)
    routes: list[dict[str, Any]] = field(default_factory=list)
    top_users: list[tuple[str, int]] = field(default_factory=list)
    top_client_ips: list[tuple[str, int]] = field(default_factory=list)
    slow_requests: int = 0
    redacted_count: int = 0
    secrets: list[dict[str, Any]] = field(default_factory=list)
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    since: str | None = None

    @property
    def secret_hits(self) -> int:
        return sum(int(item["plaintext_hits"]) for item in self.secrets)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sources": self.sources,
            "since": self.since,
            "first_timestamp": self.first_timestamp,
            "last_timestamp": self.last_timestamp,
            "total_requests": self.total_requests,
            "other_documents": self.other_documents,
            "bad_lines": self.bad_lines,
            "bad_line_examples": self.bad_line_examples,
            "status_classes": self.status_classes,
            "statuses": self.statuses,
            "bucket_seconds": self.bucket_seconds,
            "timeline": self.timeline,
            "routes": self.routes,
            "top_users": [list(pair) for pair in self.top_users],
            "top_client_ips": [list(pair) for pair in self.top_client_ips],
            "slow_requests": self.slow_requests,
            "masking": {
                "redacted_count": self.redacted_count,
                "secrets": self.secrets,
                "plaintext_hits": self.secret_hits,
            },
        }


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty sequence."""
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _secret_forms(secret: str) -> set[str]:
    # A secret can sit in a log line as-is, JSON-escaped or URL-encoded.
    forms = {secret, json.dumps(secret, ensure_ascii=False)[1:-1], json.dumps(secret)[1:-1]}
    forms.add(urllib.parse.quote(secret, safe=""))
    forms.add(urllib.parse.quote_plus(secret))
    return {form for form in forms if form}


def summarise(
    documents: Iterable[tuple[str, Mapping[str, Any]]],
    *,
    sources: Sequence[str],
    since: dt.datetime | None = None,
    secrets: Sequence[str] = (),
    top: int = 5,
    bucket: dt.timedelta = dt.timedelta(minutes=1),
    bad: BadLines | None = None,
) -> Summary:
    """Consume ``(raw_text, document)`` pairs and compute the report."""
    bad = bad if bad is not None else BadLines()
    forms = [(secret, _secret_forms(secret)) for secret in secrets if secret]
    hits = [0] * len(forms)
    classes: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    users: Counter[str] = Counter()
    ips: Counter[str] = Counter()
    durations: dict[str, list[float]] = {}
    route_counts: Counter[str] = Counter()
    route_errors: Counter[str] = Counter()
    buckets: dict[int, list[int]] = {}
    bucket_s = max(bucket.total_seconds(), 1.0)
    summary = Summary(sources=list(sources), bucket_seconds=bucket_s)
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    for raw, doc in documents:
        event = event_from_doc(doc)
        stamp = event.timestamp if event else parse_timestamp(lookup(doc, "@timestamp"))
        if since is not None and stamp is not None and stamp < since:
            continue
        summary.redacted_count += raw.count(REDACTED)
        for index, (_secret, variants) in enumerate(forms):
            hits[index] += sum(raw.count(variant) for variant in variants)
        if event is None:
            summary.other_documents += 1
            continue
        summary.total_requests += 1
        classes[f"{event.status // 100}xx"] += 1
        statuses[event.status] += 1
        users[event.user or "(anonymous)"] += 1
        ips[event.client_ip or "(unknown)"] += 1
        route_key = event.route
        route_counts[route_key] += 1
        if event.status >= 500:
            route_errors[route_key] += 1
        if event.duration_ms is not None:
            durations.setdefault(route_key, []).append(event.duration_ms)
        if event.slow:
            summary.slow_requests += 1
        if event.timestamp is not None:
            first = event.timestamp if first is None else min(first, event.timestamp)
            last = event.timestamp if last is None else max(last, event.timestamp)
            slot = int(event.timestamp.timestamp() // bucket_s)
            counts = buckets.setdefault(slot, [0, 0, 0])
            counts[0] += 1
            if event.status >= 500:
                counts[1] += 1
            elif event.status >= 400:
                counts[2] += 1

    summary.bad_lines = bad.count
    summary.bad_line_examples = list(bad.first)
    summary.status_classes = {name: classes[name] for name in sorted(classes)}
    summary.statuses = {str(code): statuses[code] for code in sorted(statuses)}
    summary.top_users = users.most_common(top)
    summary.top_client_ips = ips.most_common(top)
    summary.first_timestamp = first.isoformat() if first else None
    summary.last_timestamp = last.isoformat() if last else None
    summary.since = since.isoformat() if since else None
    if buckets:
        # Empty buckets between the first and last one stay visible as zeros:
        # a gap in traffic is information too.
        for slot in range(min(buckets), max(buckets) + 1):
            total, errors_5xx, errors_4xx = buckets.get(slot, [0, 0, 0])
            start = dt.datetime.fromtimestamp(slot * bucket_s, tz=dt.timezone.utc)
            summary.timeline.append(
                {
                    "start": start.isoformat(),
                    "requests": total,
                    "errors_5xx": errors_5xx,
                    "errors_4xx": errors_4xx,
                    "error_rate": (errors_5xx / total) if total else 0.0,
                    "errors_5xx_per_minute": errors_5xx * 60.0 / bucket_s,
                }
            )
    for route, count in sorted(route_counts.items(), key=lambda item: (-item[1], item[0])):
        values = sorted(durations.get(route, []))
        summary.routes.append(
            {
                "route": route,
                "requests": count,
                "errors_5xx": route_errors[route],
                "p50_ms": round(percentile(values, 50), 3) if values else None,
                "p95_ms": round(percentile(values, 95), 3) if values else None,
                "max_ms": round(values[-1], 3) if values else None,
            }
        )
    summary.secrets = [
        {"secret": f"secret #{number}", "length": len(secret), "plaintext_hits": hits[number - 1]}
        for number, (secret, _variants) in enumerate(forms, start=1)
    ]
    return summary


# --------------------------------------------------------------------------- rendering


def _heading(write: Callable[[str], Any], title: str, rule: str = "-") -> None:
    write(title)
    write(rule * len(title))


def _bar(value: float, maximum: float, width: int = 30) -> str:
    if maximum <= 0 or value <= 0:
        return ""
    return "#" * max(1, round(width * value / maximum))


def _fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def render_text(
    summary: Summary,
    write: Callable[[str], Any],
    *,
    shipping_hints: bool = True,
    max_routes: int = 20,
) -> None:
    """Write the human-readable report, one line per ``write`` call.

    The route table is cut at ``max_routes`` (busiest first): unmatched paths
    from scanners would otherwise make it endless. ``as_dict`` keeps them all.
    """
    total = summary.total_requests
    _heading(write, "django-reqlog report", "=")
    for source in summary.sources:
        write(f"Source: {source}")
    if summary.since:
        write(f"Window: events since {summary.since}")
    if summary.first_timestamp:
        write(f"Events: {summary.first_timestamp} .. {summary.last_timestamp}")
    other = f", {summary.other_documents} other log documents" if summary.other_documents else ""
    write(f"Requests: {total}{other}")
    if summary.bad_lines:
        write(f"Skipped {summary.bad_lines} unreadable line(s), e.g.:")
        for example in summary.bad_line_examples:
            write(f"  {example}")
    write("")

    _heading(write, "Requests by status class")
    if not total:
        write("  (no request events found)")
    for name, count in summary.status_classes.items():
        share = 100.0 * count / total if total else 0.0
        write(f"  {name}  {count:7d}  {share:5.1f}%  {_bar(count, total)}")
    if summary.statuses:
        codes = ", ".join(f"{code}: {count}" for code, count in summary.statuses.items())
        write(f"  by code: {codes}")
    write("")

    bucket = summary.bucket_seconds
    label = f"{bucket / 60:g} min" if bucket >= 60 else f"{bucket:g} s"
    _heading(write, f"Error rate over time ({label} buckets; 5xx/min = per-minute rate)")
    if not summary.timeline:
        write("  (no timestamps)")
    peak = max((row["errors_5xx"] for row in summary.timeline), default=0)
    write(
        f"  {'bucket start (UTC)':<20} {'reqs':>6} {'4xx':>5} {'5xx':>5} "
        f"{'5xx %':>6} {'5xx/min':>8}"
    )
    for row in summary.timeline:
        start = str(row["start"])[:19].replace("T", " ")
        write(
            f"  {start:<20} {row['requests']:6d} {row['errors_4xx']:5d} {row['errors_5xx']:5d} "
            f"{100.0 * row['error_rate']:5.1f}% {row['errors_5xx_per_minute']:8.1f}  "
            f"{_bar(row['errors_5xx'], peak, 20)}".rstrip()
        )
    write("")

    _heading(write, "Latency per route (ms)")
    if summary.routes:
        shown = summary.routes[:max_routes]
        width = min(48, max(len(str(row["route"])) for row in shown))
        write(f"  {'route':<{width}} {'reqs':>6} {'5xx':>5} {'p50':>9} {'p95':>9} {'max':>9}")
        for row in shown:
            write(
                f"  {str(row['route'])[:width]:<{width}} {row['requests']:6d} "
                f"{row['errors_5xx']:5d} {_fmt_ms(row['p50_ms']):>9} "
                f"{_fmt_ms(row['p95_ms']):>9} {_fmt_ms(row['max_ms']):>9}"
            )
        hidden = summary.routes[max_routes:]
        if hidden:
            count = sum(int(row["requests"]) for row in hidden)
            write(f"  ... {len(hidden)} more route(s) with {count} request(s) (--routes to show)")
    else:
        write("  (no request events)")
    if summary.slow_requests:
        write(f"  slow requests (reqlog.slow): {summary.slow_requests}")
    write("")

    _heading(write, "Top users")
    for name, count in summary.top_users:
        write(f"  {count:7d}  {name}")
    _heading(write, "Top client IPs")
    for address, count in summary.top_client_ips:
        write(f"  {count:7d}  {address}")
    write("")

    _heading(write, "Masking proof")
    write(f"  {REDACTED} placeholders in the events: {summary.redacted_count}")
    if summary.secrets:
        for item in summary.secrets:
            verdict = "OK" if item["plaintext_hits"] == 0 else "LEAKED"
            write(
                f"  {item['secret']} ({item['length']} chars): "
                f"{item['plaintext_hits']} plaintext hit(s)  {verdict}"
            )
    else:
        write("  (pass --secret VALUE to prove a given secret never appears in plaintext)")
    write("")

    if shipping_hints:
        _heading(write, "Sending the same events to Elasticsearch or Logstash")
        write("  Elasticsearch: handler class django_reqlog.handlers.ElasticsearchHandler")
        write("    (example project: export REQLOG_ELASTICSEARCH_URL=https://host:9200 plus")
        write("    REQLOG_ELASTICSEARCH_USERNAME/_PASSWORD or _API_KEY, and _CA_CERTS for TLS;")
        write("    run `manage.py reqlog_setup` once to install the index template and policy)")
        write("  Logstash: handler class django_reqlog.handlers.LogstashHandler")
        write("    (example project: export REQLOG_LOGSTASH_HOST=host REQLOG_LOGSTASH_PORT=5000)")
        write("  Read them back: manage.py reqlog_report --elasticsearch --since 1h")
