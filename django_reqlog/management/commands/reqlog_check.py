"""``manage.py reqlog_check``: send one event through the configured handlers
and wait until Elasticsearch can find it, printing how long that took.

It proves the whole path a request event takes (logger ``django_reqlog`` ->
handlers -> shipper or Logstash -> index template -> searchable), not just
that a socket opens.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_reqlog import es_setup


class Command(BaseCommand):
    help = "Log one test event on 'django_reqlog' and wait until Elasticsearch has indexed it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", help="Elasticsearch to search (default: as reqlog_setup).")
        parser.add_argument(
            "--index",
            default=es_setup.DEFAULT_SEARCH_TARGET,
            help="Index pattern to search (default: %(default)s).",
        )
        parser.add_argument(
            "--timeout", type=float, default=60.0, help="Seconds to wait (default 60)."
        )
        parser.add_argument(
            "--level",
            default="INFO",
            choices=["DEBUG", "INFO", "WARNING", "ERROR"],
            help="Level of the test event (default INFO).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        handlers = es_setup.handlers_of("django_reqlog")
        level = logging.getLevelName(options["level"])
        accepting = [h for h in handlers if h.level <= level]
        if not accepting:
            raise CommandError(
                f"No logging handler on the 'django_reqlog' logger accepts {options['level']}: "
                "configure one in LOGGING (e.g. django_reqlog.handlers.ElasticsearchHandler)."
            )
        try:
            conn = es_setup.resolve_connection(url=options["url"])
            client = es_setup.make_client(conn)
        except es_setup.SetupError as exc:
            raise CommandError(str(exc)) from exc

        event_id = uuid.uuid4().hex
        names = ", ".join(h.get_name() or type(h).__name__ for h in accepting)
        self.stdout.write(f"Sending event {event_id} through: {names}")
        logger = logging.getLogger("django_reqlog")
        started = time.monotonic()
        # Bypass the logger's own level (it may be WARNING in production) but
        # keep its filters and each handler's level.
        record = logger.makeRecord(
            logger.name,
            level,
            __file__,
            0,
            "reqlog_check %s",
            (event_id,),
            None,
            extra={"event_id": event_id, "reqlog_check": True},
        )
        logger.handle(record)
        for handler in accepting:
            handler.flush()
        try:
            hit, waited = es_setup.wait_for_event(
                client,
                options["index"],
                event_id,
                max(0.0, options["timeout"] - (time.monotonic() - started)),
            )
        except Exception as exc:
            raise CommandError(str(es_setup.explain(exc, conn))) from exc
        finally:
            client.close()
        total = time.monotonic() - started
        if hit is None:
            raise CommandError(
                f"Event {event_id} was not searchable in {options['index']} after "
                f"{total:.1f}s. Check `manage.py reqlog_status` for shipper errors and "
                "`manage.py reqlog_setup` for the template."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Event {event_id} searchable in {hit['_index']} after {total:.2f}s "
                f"(search polling {waited:.2f}s)"
            )
        )
