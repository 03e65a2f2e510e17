"""``manage.py reqlog_setup``: install the index template, ILM policy and data stream.

Idempotent: a second run reports every step ``unchanged``. ``--dry-run`` only
reads. Connection: ``--url``/``--username``/... or the ``REQLOG_ELASTICSEARCH_*``
settings (or environment variables), else the first ``ElasticsearchHandler``
configured on the ``django_reqlog`` logger.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_reqlog import es_setup
from django_reqlog.conf import conf


class Command(BaseCommand):
    help = "Install django-reqlog's index template, ILM policy and data stream in Elasticsearch."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", help="Elasticsearch URL (default: REQLOG_ELASTICSEARCH_URL).")
        parser.add_argument(
            "--username", help="Basic-auth user (default: REQLOG_ELASTICSEARCH_USERNAME)."
        )
        parser.add_argument(
            "--password-env",
            metavar="VAR",
            help="Read the password from this environment variable (never from argv, "
            "which other users can see).",
        )
        parser.add_argument(
            "--ca-certs", help="CA bundle for HTTPS (default: REQLOG_ELASTICSEARCH_CA_CERTS)."
        )
        parser.add_argument(
            "--mode",
            choices=es_setup.MODES,
            help="data_stream (logs-django.reqlog-<namespace>), alias (reqlog-events write "
            "alias + rollover, for clusters without data streams) or auto (default: "
            "REQLOG_ELASTICSEARCH_MODE or auto).",
        )
        parser.add_argument(
            "--namespace",
            help="Data stream namespace (default: REQLOG_ELASTICSEARCH_NAMESPACE or 'default').",
        )
        parser.add_argument(
            "--retention-days",
            type=int,
            help="ILM delete phase (default: REQLOG_ELASTICSEARCH_RETENTION_DAYS or 30).",
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
            "--kibana-url",
            help="Also import the Kibana saved objects (default: REQLOG_KIBANA_URL).",
        )
        parser.add_argument(
            "--kibana-file", action="append", default=[], help="NDJSON file to import (repeatable)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get(options["password_env"]) if options["password_env"] else None
        try:
            conn = es_setup.resolve_connection(
                url=options["url"],
                username=options["username"],
                password=password,
                ca_certs=options["ca_certs"],
            )
            mode = options["mode"] or conf.elasticsearch_mode
            namespace = options["namespace"] or conf.elasticsearch_namespace
            retention = options["retention_days"] or conf.elasticsearch_retention_days
            dry_run = options["dry_run"]
            client = es_setup.make_client(conn)
        except es_setup.SetupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Elasticsearch: {conn.describe()}" + (" [dry run]" if dry_run else ""))
        try:
            report = es_setup.run_setup(
                client, mode=mode, namespace=namespace, retention_days=retention, dry_run=dry_run
            )
            for step in report.steps:
                self.stdout.write("  " + step.line())
            if options["rollover"]:
                self.stdout.write("  " + es_setup.rollover(client, report.target, dry_run=dry_run))
            if options["prune"]:
                deleted = es_setup.prune(client, report.target, retention, dry_run=dry_run)
                verb = "would delete" if dry_run else "deleted"
                self.stdout.write(f"  {verb} {len(deleted)} old indices {deleted}")
        except es_setup.SetupError as exc:
            raise CommandError(str(exc)) from exc
        except Exception as exc:
            raise CommandError(str(es_setup.explain(exc, conn))) from exc
        finally:
            client.close()
        self.stdout.write(
            f"Write target: {report.target} (mode {report.mode}, ILM "
            f"{'on' if report.ilm else 'unavailable'})"
        )
        kibana_url = options["kibana_url"] or conf.kibana_url
        if kibana_url:
            files = es_setup.kibana_ndjson_files(options["kibana_file"])
            if not files:
                raise CommandError("--kibana-url given but no Kibana NDJSON files were found")
            if dry_run:
                for path in files:
                    self.stdout.write(f"  would import {path} into {kibana_url}")
                return
            try:
                for line in es_setup.kibana_import(kibana_url, files, conn):
                    self.stdout.write("  " + line)
            except es_setup.SetupError as exc:
                raise CommandError(str(exc)) from exc
