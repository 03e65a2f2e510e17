"""``manage.py reqlog_report``: a terminal report built from captured request events."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_reqlog.conf import conf
from django_reqlog.report import (
    DEFAULT_ES_INDEX,
    BadLines,
    ReportError,
    iter_elasticsearch,
    iter_file_lines,
    parse_duration,
    parse_since,
    render_text,
    summarise,
)


class Command(BaseCommand):
    help = (
        "Summarise request events from ECS/Logstash JSON-lines files or from Elasticsearch: "
        "status classes, error rate over time, latency per route, top users and client IPs, "
        "and proof that given secrets never appear in plaintext."
    )

    def add_arguments(self, parser: CommandParser) -> None:
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
            help="Read from the cluster in REQLOG_ELASTICSEARCH_URL (credentials from "
            "REQLOG_ELASTICSEARCH_USERNAME/_PASSWORD or _API_KEY, TLS CA from _CA_CERTS).",
        )
        parser.add_argument(
            "--index",
            default=None,
            help="Index, alias, data stream or pattern to read (default: "
            f"REQLOG_ELASTICSEARCH_INDEX or {DEFAULT_ES_INDEX}).",
        )
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
        parser.add_argument(
            "--format", choices=["text", "json"], default="text", help="Output format."
        )
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

    def handle(self, *args: Any, **options: Any) -> None:
        files: list[str] = options["files"]
        use_es: bool = options["elasticsearch"]
        if bool(files) == use_es:
            raise CommandError("give either --file PATH (one or more) or --elasticsearch")
        if options["top"] < 1:
            raise CommandError("--top must be at least 1")
        if options["routes"] < 1:
            raise CommandError("--routes must be at least 1")
        if not 1 <= options["page_size"] <= 10_000:
            raise CommandError("--page-size must be between 1 and 10000")
        try:
            bucket = parse_duration(options["bucket"])
        except ValueError as exc:
            raise CommandError(f"--bucket: {exc}") from None
        since: dt.datetime | None = None
        if options["since"]:
            try:
                since = parse_since(options["since"])
            except ValueError as exc:
                raise CommandError(str(exc)) from None

        bad = BadLines()
        if use_es:
            client, url = self._es_client()
            index = options["index"] or conf.elasticsearch_index or DEFAULT_ES_INDEX
            sources = [f"Elasticsearch {url} index {index}"]
            documents: Iterator[tuple[str, dict[str, Any]]] = iter_elasticsearch(
                client,
                index,
                since,
                page_size=options["page_size"],
                progress=bool(options["progress"]),
                stream=sys.stderr,
            )
        else:
            sources = [os.path.abspath(path) for path in files]
            documents = self._iter_files(files, bad, options["progress"])
        try:
            summary = summarise(
                documents,
                sources=sources,
                since=since,
                secrets=options["secrets"],
                top=options["top"],
                bucket=bucket,
                bad=bad,
            )
        except ReportError as exc:
            raise CommandError(str(exc)) from None

        if options["format"] == "json":
            self.stdout.write(json.dumps(summary.as_dict(), indent=2))
        else:
            render_text(
                summary,
                self.stdout.write,
                shipping_hints=not options["no_hints"],
                max_routes=options["routes"],
            )
        if bad.count:
            self.stderr.write(f"warning: skipped {bad.count} unreadable line(s)")
        if summary.secret_hits:
            raise CommandError(
                f"{summary.secret_hits} plaintext occurrence(s) of the given secrets found"
            )

    @staticmethod
    def _iter_files(
        files: list[str], bad: BadLines, progress: bool | None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        # Check every path up front so a typo in the second file does not
        # surface only after the first one was read.
        for path in files:
            if not os.path.exists(path):
                raise CommandError(f"log file not found: {path}")
        for path in files:
            yield from iter_file_lines(path, bad, progress=progress, stream=sys.stderr)

    @staticmethod
    def _es_client() -> tuple[Any, str]:
        url = (conf.elasticsearch_url or "").strip()
        if not url:
            raise CommandError("--elasticsearch needs REQLOG_ELASTICSEARCH_URL to be set")
        try:
            from elasticsearch import Elasticsearch
        except ImportError:
            raise CommandError(
                "--elasticsearch needs the Elasticsearch client: "
                "pip install 'django-reqlog[elasticsearch]'"
            ) from None
        kwargs: dict[str, Any] = {"request_timeout": 10, "max_retries": 1}
        api_key = conf.elasticsearch_api_key
        username = conf.elasticsearch_username
        # The client refuses both at once; an API key is the narrower grant.
        if api_key:
            kwargs["api_key"] = api_key
        elif username:
            kwargs["basic_auth"] = (username, conf.elasticsearch_password or "")
        ca_certs = conf.elasticsearch_ca_certs
        if ca_certs:
            kwargs["ca_certs"] = ca_certs
        client = Elasticsearch(url, **kwargs)
        from elasticsearch import ApiError, AuthenticationException, TransportError

        try:
            # Cluster health, not info(): some distributions have no `GET /`.
            client.cluster.health(timeout="5s")
        except AuthenticationException:
            raise CommandError(
                f"Elasticsearch at {_safe_url(url)} rejected the credentials (HTTP 401); "
                "check REQLOG_ELASTICSEARCH_USERNAME/_PASSWORD or _API_KEY"
            ) from None
        except ApiError:
            pass  # It answered; a read-only user may just lack cluster privileges.
        except TransportError as exc:
            raise CommandError(
                f"cannot reach Elasticsearch at {_safe_url(url)}: {type(exc).__name__}: "
                f"{getattr(exc, 'message', None) or exc}"
            ) from None
        return client, _safe_url(url)


def _safe_url(url: str) -> str:
    """The URL without any user:password part, fit for printing."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username or parts.password:
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)
