"""``manage.py reqlog_check``: one event through the handlers, found in Elasticsearch."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from django.core.management.base import CommandParser

from django_reqlog.elastic.check import accepting_handlers, send_check_event, wait_for_event
from django_reqlog.elastic.cli.console import Console
from django_reqlog.elastic.cli.options import (
    Sources,
    add_connection_arguments,
    add_index_argument,
    resolve_connection,
)
from django_reqlog.elastic.connection import explain, open_client
from django_reqlog.elastic.errors import ElasticError

HELP = "Log one test event on 'django_reqlog' and wait until Elasticsearch has indexed it."
NEEDS = "reqlog_check needs read on the index pattern it searches"


def add_arguments(parser: CommandParser) -> None:
    add_connection_arguments(parser)
    add_index_argument(parser)
    parser.add_argument("--timeout", type=float, default=60.0, help="Seconds to wait (default 60).")
    parser.add_argument(
        "--level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="Level of the test event (default INFO).",
    )


def main(options: Mapping[str, Any], console: Console) -> None:
    level = logging.getLevelName(options["level"])
    handlers = accepting_handlers(level)
    if not handlers:
        raise ElasticError(
            f"No logging handler on the 'django_reqlog' logger accepts {options['level']}: "
            "configure one in LOGGING (e.g. django_reqlog.handlers.ElasticsearchHandler)."
        )
    sources = Sources(options)
    conn = resolve_connection(sources)
    index = sources.value("index")
    sources.announce(console.warn)
    client = open_client(conn)
    event_id = uuid.uuid4().hex
    names = ", ".join(h.get_name() or type(h).__name__ for h in handlers)
    console.write(f"Sending event {event_id} through: {names}")
    started = time.monotonic()
    send_check_event(event_id, level, handlers)
    try:
        left = max(0.0, options["timeout"] - (time.monotonic() - started))
        hit, waited = wait_for_event(client, index, event_id, left)
    except Exception as exc:
        raise explain(exc, conn, NEEDS) from exc
    finally:
        client.close()
    total = time.monotonic() - started
    if hit is None:
        raise ElasticError(
            f"Event {event_id} was not searchable in {index} after {total:.1f}s. Check "
            "`manage.py reqlog_status` for shipper errors and `manage.py reqlog_setup` for "
            "the template."
        )
    console.write(
        console.success(
            f"Event {event_id} searchable in {hit['_index']} after {total:.2f}s "
            f"(search polling {waited:.2f}s)"
        )
    )
