"""``manage.py reqlog_setup``: template, policy, write target, and Kibana objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.management.base import CommandParser

from django_reqlog.elastic.cli.console import Console
from django_reqlog.elastic.cli.options import Sources, add_connection_arguments, resolve_connection
from django_reqlog.elastic.connection import Connection, explain, open_client
from django_reqlog.elastic.errors import ElasticError
from django_reqlog.elastic.install import SetupReport, run_setup
from django_reqlog.elastic.kibana import import_ndjson
from django_reqlog.elastic.names import MODES
from django_reqlog.elastic.resource_files import kibana_ndjson_files
from django_reqlog.elastic.retention import prune, rollover

HELP = "Install django-reqlog's index template, ILM policy and data stream in Elasticsearch."
NEEDS = "setup needs cluster privileges manage_index_templates and manage_ilm"


def add_arguments(parser: CommandParser) -> None:
    add_connection_arguments(parser)
    parser.add_argument(
        "--mode",
        choices=MODES,
        help="data_stream (logs-django.reqlog-<namespace>), alias (reqlog-events write "
        "alias + rollover, for clusters without data streams) or auto "
        "(REQLOG_ELASTICSEARCH_MODE, default auto).",
    )
    parser.add_argument(
        "--namespace",
        help="Data stream namespace (REQLOG_ELASTICSEARCH_NAMESPACE, default 'default').",
    )
    parser.add_argument(
        "--retention-days",
        type=int,
        help="ILM delete phase (REQLOG_ELASTICSEARCH_RETENTION_DAYS, default 30).",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="Print what would change; write nothing."
    )
    parser.add_argument(
        "--rollover",
        action="store_true",
        help="Also roll the write index over if it is older than a day "
        "(a cron job for clusters without ILM).",
    )
    parser.add_argument(
        "--prune",
        action="store_true",
        help="Also delete rolled-over indices older than the retention "
        "(a cron job for clusters without ILM).",
    )
    parser.add_argument(
        "--kibana-url", help="Also import the Kibana saved objects (REQLOG_KIBANA_URL)."
    )
    parser.add_argument(
        "--kibana-file", action="append", default=[], help="NDJSON file to import (repeatable)."
    )


@dataclass(frozen=True)
class Plan:
    conn: Connection
    mode: str
    namespace: str
    retention_days: int
    kibana_url: str | None
    options: Mapping[str, Any]


def main(options: Mapping[str, Any], console: Console) -> None:
    sources = Sources(options)
    plan = Plan(
        conn=resolve_connection(sources),
        mode=sources.value("mode"),
        namespace=sources.value("namespace"),
        retention_days=sources.value("retention_days"),
        kibana_url=sources.value("kibana_url"),
        options=options,
    )
    sources.announce(console.warn)
    dry_run = " [dry run]" if options["dry_run"] else ""
    console.write(f"Elasticsearch: {plan.conn.describe()}{dry_run}")
    report = _install(plan, console)
    ilm = "on" if report.ilm else "unavailable"
    console.write(f"Write target: {report.target} (mode {report.mode}, ILM {ilm})")
    if plan.kibana_url:
        _import_kibana(plan, plan.kibana_url, console)


def _install(plan: Plan, console: Console) -> SetupReport:
    dry_run = bool(plan.options["dry_run"])
    client = open_client(plan.conn)
    try:
        report = run_setup(
            client,
            mode=plan.mode,
            namespace=plan.namespace,
            retention_days=plan.retention_days,
            dry_run=dry_run,
        )
        for step in report.steps:
            console.write("  " + step.line())
        if plan.options["rollover"]:
            console.write("  " + rollover(client, report.target, dry_run=dry_run))
        if plan.options["prune"]:
            deleted = prune(client, report.target, plan.retention_days, dry_run=dry_run)
            verb = "would delete" if dry_run else "deleted"
            console.write(f"  {verb} {len(deleted)} old indices {deleted}")
    except ElasticError:
        raise
    except Exception as exc:
        raise explain(exc, plan.conn, NEEDS) from exc
    finally:
        client.close()
    return report


def _import_kibana(plan: Plan, kibana_url: str, console: Console) -> None:
    files = kibana_ndjson_files(plan.options["kibana_file"])
    if not files:
        raise ElasticError("--kibana-url given but no Kibana NDJSON files were found")
    for path in files:
        if plan.options["dry_run"]:
            console.write(f"  would import {path} into {kibana_url}")
            continue
        count = import_ndjson(
            kibana_url, path, authorization=plan.conn.authorization(), cafile=plan.conn.ca_certs
        )
        console.write(f"  imported {count} objects from {path.name}")
