"""The human-readable report: one small renderer per section, run in order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django_reqlog.elastic.report.summary import Summary
from django_reqlog.masking import REDACTED

Write = Callable[[str], Any]


@dataclass(frozen=True)
class RenderOptions:
    shipping_hints: bool = True
    max_routes: int = 20


def render_text(
    summary: Summary,
    write: Write,
    *,
    shipping_hints: bool = True,
    max_routes: int = 20,
) -> None:
    """Write the report, one line per ``write`` call.

    The route table is cut at ``max_routes`` (busiest first): unmatched paths
    from scanners would otherwise make it endless. ``as_dict`` keeps them all.
    """
    options = RenderOptions(shipping_hints=shipping_hints, max_routes=max_routes)
    for section in SECTIONS:
        section(summary, write, options)


def _heading(write: Write, title: str, rule: str = "-") -> None:
    write(title)
    write(rule * len(title))


def _bar(value: float, maximum: float, width: int = 30) -> str:
    if maximum <= 0 or value <= 0:
        return ""
    return "#" * max(1, round(width * value / maximum))


def _fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _overview(summary: Summary, write: Write, options: RenderOptions) -> None:
    _heading(write, "django-reqlog report", "=")
    for source in summary.sources:
        write(f"Source: {source}")
    if summary.since:
        write(f"Window: events since {summary.since}")
    if summary.first_timestamp:
        write(f"Events: {summary.first_timestamp} .. {summary.last_timestamp}")
    other = f", {summary.other_documents} other log documents" if summary.other_documents else ""
    write(f"Requests: {summary.total_requests}{other}")
    if summary.bad_lines:
        write(f"Skipped {summary.bad_lines} unreadable line(s), e.g.:")
        for example in summary.bad_line_examples:
            write(f"  {example}")
    write("")


def _status_classes(summary: Summary, write: Write, options: RenderOptions) -> None:
    total = summary.total_requests
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


def _timeline(summary: Summary, write: Write, options: RenderOptions) -> None:
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


def _routes(summary: Summary, write: Write, options: RenderOptions) -> None:
    _heading(write, "Latency per route (ms)")
    if summary.routes:
        _route_table(summary.routes, write, options.max_routes)
    else:
        write("  (no request events)")
    if summary.slow_requests:
        write(f"  slow requests (reqlog.slow): {summary.slow_requests}")
    write("")


def _route_table(routes: list[dict[str, Any]], write: Write, max_routes: int) -> None:
    shown = routes[:max_routes]
    width = min(48, max(len(str(row["route"])) for row in shown))
    write(f"  {'route':<{width}} {'reqs':>6} {'5xx':>5} {'p50':>9} {'p95':>9} {'max':>9}")
    for row in shown:
        write(
            f"  {str(row['route'])[:width]:<{width}} {row['requests']:6d} "
            f"{row['errors_5xx']:5d} {_fmt_ms(row['p50_ms']):>9} "
            f"{_fmt_ms(row['p95_ms']):>9} {_fmt_ms(row['max_ms']):>9}"
        )
    hidden = routes[max_routes:]
    if hidden:
        count = sum(int(row["requests"]) for row in hidden)
        write(f"  ... {len(hidden)} more route(s) with {count} request(s) (--routes to show)")


def _people(summary: Summary, write: Write, options: RenderOptions) -> None:
    _heading(write, "Top users")
    for name, count in summary.top_users:
        write(f"  {count:7d}  {name}")
    _heading(write, "Top client IPs")
    for address, count in summary.top_client_ips:
        write(f"  {count:7d}  {address}")
    write("")


def _masking(summary: Summary, write: Write, options: RenderOptions) -> None:
    _heading(write, "Masking proof")
    write(f"  {REDACTED} placeholders in the events: {summary.redacted_count}")
    for item in summary.secrets:
        verdict = "OK" if item["plaintext_hits"] == 0 else "LEAKED"
        write(
            f"  {item['secret']} ({item['length']} chars): "
            f"{item['plaintext_hits']} plaintext hit(s)  {verdict}"
        )
    if not summary.secrets:
        write("  (pass --secret VALUE to prove a given secret never appears in plaintext)")
    write("")


SHIPPING_HINTS = (
    "  Elasticsearch: handler class django_reqlog.handlers.ElasticsearchHandler",
    "    (example project: export REQLOG_ELASTICSEARCH_URL=https://host:9200 plus",
    "    REQLOG_ELASTICSEARCH_USERNAME/_PASSWORD or _API_KEY, and _CA_CERTS for TLS;",
    "    run `manage.py reqlog_setup` once to install the index template and policy)",
    "  Logstash: handler class django_reqlog.handlers.LogstashHandler",
    "    (example project: export REQLOG_LOGSTASH_HOST=host REQLOG_LOGSTASH_PORT=5000)",
    "  Read them back: manage.py reqlog_report --elasticsearch --since 1h",
)


def _shipping_hints(summary: Summary, write: Write, options: RenderOptions) -> None:
    if options.shipping_hints:
        _heading(write, "Sending the same events to Elasticsearch or Logstash")
        for line in SHIPPING_HINTS:
            write(line)


SECTIONS: tuple[Callable[[Summary, Write, RenderOptions], None], ...] = (
    _overview,
    _status_classes,
    _timeline,
    _routes,
    _people,
    _masking,
    _shipping_hints,
)
