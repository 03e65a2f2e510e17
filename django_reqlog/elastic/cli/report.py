"""``manage.py reqlog_report``: a terminal report built from captured request events."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from django.core.management.base import CommandParser

from django_reqlog.elastic.cli.console import Console
from django_reqlog.elastic.cli.options import (
    Sources,
    add_connection_arguments,
    add_index_argument,
    resolve_connection,
)
from django_reqlog.elastic.client import safe_url
from django_reqlog.elastic.connection import open_client
from django_reqlog.elastic.errors import ElasticError
from django_reqlog.elastic.report.es_reader import iter_elasticsearch
from django_reqlog.elastic.report.files import BadLines, iter_file_lines
from django_reqlog.elastic.report.render import render_text
from django_reqlog.elastic.report.summarise import summarise
from django_reqlog.elastic.report.windows import parse_duration, parse_since

HELP = (
    "Summarise request events from ECS/Logstash JSON-lines files or from Elasticsearch: "
    "status classes, error rate over time, latency per route, top users and client IPs, "
    "and proof that given secrets never appear in plaintext."
)
Documents = Iterator[tuple[str, dict[str, Any]]]


def add_arguments(parser: CommandParser) -> None:
    source = parser.add_argument_group("source (one of)")
    source.add_argument(
        "--file",
        dest="files",
        action="append",
        default=[],
        metavar="PATH",
        help="JSON-lines file written by ECSFormatter or LogstashFormatter (repeatable).",
    )
    source.add_argument(
        "--elasticsearch",
        action="store_true",
        help="Read from Elasticsearch (connection options below).",
    )
    add_connection_arguments(parser)
    add_index_argument(parser)
    _add_shape_arguments(parser)
    _add_output_arguments(parser)


def _add_shape_arguments(parser: CommandParser) -> None:
    parser.add_argument(
        "--page-size",
        type=int,
        default=1000,
        help="Documents per Elasticsearch search request (default 1000).",
    )
    parser.add_argument(
        "--since",
        help="Only events from this window: a duration (30s, 15m, 2h, 1d) or an ISO timestamp.",
    )
    parser.add_argument(
        "--secret",
        dest="secrets",
        action="append",
        default=[],
        metavar="VALUE",
        help="A value that must never appear in plaintext (repeatable); the report counts "
        "hits and exits 1 if there are any. The value itself is never printed.",
    )
    parser.add_argument("--top", type=int, default=5, help="How many users/IPs to list.")
    parser.add_argument(
        "--routes",
        type=int,
        default=20,
        help="How many routes the latency table shows, busiest first (default 20).",
    )
    parser.add_argument(
        "--bucket",
        default="1m",
        help="Bucket width of the error-rate timeline (default 1m; e.g. 5s for short runs).",
    )


def _add_output_arguments(parser: CommandParser) -> None:
    parser.add_argument("--format", choices=["text", "json"], default="text", help="Output format.")
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument(
        "--progress",
        dest="progress",
        action="store_const",
        const=True,
        default=None,
        help="Always show progress on stderr.",
    )
    progress.add_argument(
        "--no-progress",
        dest="progress",
        action="store_const",
        const=False,
        help="Never show progress (default: only for large files or a terminal).",
    )
    parser.add_argument(
        "--no-hints",
        action="store_true",
        help="Leave out the 'send the same events to Elasticsearch or Logstash' section.",
    )


@dataclass(frozen=True)
class Window:
    bucket: dt.timedelta
    since: dt.datetime | None


def main(options: Mapping[str, Any], console: Console) -> None:
    window = _check_options(options)
    bad = BadLines()
    with ExitStack() as cleanup:
        sources, documents = _open_source(options, window, bad, console, cleanup)
        summary = summarise(
            documents,
            sources=sources,
            since=window.since,
            secrets=options["secrets"],
            top=options["top"],
            bucket=window.bucket,
            bad=bad,
        )
    if options["format"] == "json":
        console.write(json.dumps(summary.as_dict(), indent=2))
    else:
        render_text(
            summary,
            console.write,
            shipping_hints=not options["no_hints"],
            max_routes=options["routes"],
        )
    if bad.count:
        console.warn(f"warning: skipped {bad.count} unreadable line(s)")
    if summary.secret_hits:
        raise ElasticError(
            f"{summary.secret_hits} plaintext occurrence(s) of the given secrets found"
        )


def _check_options(options: Mapping[str, Any]) -> Window:
    if bool(options["files"]) == bool(options["elasticsearch"]):
        raise ElasticError("give either --file PATH (one or more) or --elasticsearch")
    if options["top"] < 1:
        raise ElasticError("--top must be at least 1")
    if options["routes"] < 1:
        raise ElasticError("--routes must be at least 1")
    if not 1 <= options["page_size"] <= 10_000:
        raise ElasticError("--page-size must be between 1 and 10000")
    try:
        bucket = parse_duration(options["bucket"])
    except ValueError as exc:
        raise ElasticError(f"--bucket: {exc}") from None
    try:
        since = parse_since(options["since"]) if options["since"] else None
    except ValueError as exc:
        raise ElasticError(str(exc)) from None
    return Window(bucket, since)


def _open_source(
    options: Mapping[str, Any], window: Window, bad: BadLines, console: Console, cleanup: ExitStack
) -> tuple[list[str], Documents]:
    if not options["elasticsearch"]:
        files: list[str] = options["files"]
        return [os.path.abspath(path) for path in files], _iter_files(files, bad, options)
    sources = Sources(options)
    conn = resolve_connection(sources)
    index = sources.value("index")
    sources.announce(console.warn)
    # One retry: a long read should survive a single dropped connection.
    client = open_client(conn, max_retries=1)
    cleanup.callback(client.close)
    documents = iter_elasticsearch(
        client,
        index,
        window.since,
        page_size=options["page_size"],
        progress=bool(options["progress"]),
        stream=sys.stderr,
    )
    return [f"Elasticsearch {safe_url(conn.url)} index {index}"], documents


def _iter_files(files: list[str], bad: BadLines, options: Mapping[str, Any]) -> Documents:
    # Check every path up front so a typo in the second file does not surface
    # only after the first one was read.
    for path in files:
        if not os.path.exists(path):
            raise ElasticError(f"log file not found: {path}")
    for path in files:
        yield from iter_file_lines(path, bad, progress=options["progress"], stream=sys.stderr)
