"""The logging stacks under test: middleware, apps and the handler chain.

Imported by ``benchmarks.settings`` (for MIDDLEWARE / INSTALLED_APPS) before
Django is set up, so nothing here imports Django models or handlers at module
level; :func:`install_logging` wires the handlers once Django is ready.
"""

from __future__ import annotations

import collections
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

REQLOG_MW = "django_reqlog.middleware.RequestLogMiddleware"
SEED_MW = "benchmarks.app.SeedRequestLogMiddleware"


@dataclass(frozen=True)
class Variant:
    name: str
    label: str
    middleware: tuple[str, ...] = ()
    apps: tuple[str, ...] = ()
    asgi: bool = False
    needs_es: bool = False
    stalled: bool = False
    shipper: bool = False  # request records go to one of our ShipperHandlers
    native: bool = True  # False: REQLOG_NATIVE=0, the pure-Python fallback


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        Variant("floor", "floor: no logging middleware"),
        Variant(
            "reqlog-file", "django-reqlog → FileHandler (ECS)", (REQLOG_MW,), ("django_reqlog",)
        ),
        Variant(
            "reqlog-queue",
            "django-reqlog → queue only, no shipping thread",
            (REQLOG_MW,),
            ("django_reqlog",),
        ),
        Variant(
            "reqlog-tcp",
            "django-reqlog → LogstashHandler, reading TCP sink",
            (REQLOG_MW,),
            ("django_reqlog",),
            shipper=True,
        ),
        Variant(
            "reqlog-es",
            "django-reqlog → ElasticsearchHandler, real ES",
            (REQLOG_MW,),
            ("django_reqlog",),
            needs_es=True,
            shipper=True,
        ),
        Variant(
            "reqlog-file-py",
            "django-reqlog → FileHandler (ECS), pure Python",
            (REQLOG_MW,),
            ("django_reqlog",),
            native=False,
        ),
        Variant(
            "reqlog-tcp-py",
            "django-reqlog → LogstashHandler, reading TCP sink, pure Python",
            (REQLOG_MW,),
            ("django_reqlog",),
            shipper=True,
            native=False,
        ),
        Variant(
            "reqlog-es-py",
            "django-reqlog → ElasticsearchHandler, real ES, pure Python",
            (REQLOG_MW,),
            ("django_reqlog",),
            needs_es=True,
            shipper=True,
            native=False,
        ),
        Variant(
            "reqlog-stalled",
            "django-reqlog → LogstashHandler, stalled sink",
            (REQLOG_MW,),
            ("django_reqlog",),
            stalled=True,
            shipper=True,
        ),
        Variant("seed-tcp", "seed stack → TCPLogstashHandler, reading sink", (SEED_MW,)),
        Variant(
            "seed-stalled",
            "seed stack → TCPLogstashHandler, stalled sink",
            (SEED_MW,),
            stalled=True,
        ),
        Variant(
            "request-logging",
            "django-request-logging 0.7.5 (DEBUG, FileHandler)",
            ("request_logging.middleware.LoggingMiddleware",),
        ),
        Variant(
            "drf-api-logger",
            "drf-api-logger 1.4.0 (DATABASE=True)",
            ("drf_api_logger.middleware.api_logger_middleware.APILoggerMiddleware",),
            ("drf_api_logger",),
        ),
        Variant("asgi-floor", "ASGI floor: async view, no logging", asgi=True),
        Variant(
            "asgi-reqlog-tcp",
            "ASGI django-reqlog → LogstashHandler, reading sink",
            (REQLOG_MW,),
            ("django_reqlog",),
            asgi=True,
            shipper=True,
        ),
        Variant(
            "asgi-reqlog-es",
            "ASGI django-reqlog → ElasticsearchHandler, real ES",
            (REQLOG_MW,),
            ("django_reqlog",),
            asgi=True,
            needs_es=True,
            shipper=True,
        ),
    ]
}


@dataclass
class Stack:
    """The installed handlers, and how to drain them at the end of a run."""

    handlers: list[logging.Handler] = field(default_factory=list)
    drain: Callable[[], None] = lambda: None

    def close(self) -> None:
        for handler in self.handlers:
            handler.close()


def es_options() -> dict[str, Any]:
    options: dict[str, Any] = {}
    user = os.environ.get("REQLOG_TEST_ES_USERNAME")
    if user:
        options["basic_auth"] = (user, os.environ.get("REQLOG_TEST_ES_PASSWORD", ""))
    ca = os.environ.get("REQLOG_TEST_ES_CA_CERTS")
    if ca:
        options["ca_certs"] = ca
    return options


def _attach(logger_name: str, handler: logging.Handler, level: int) -> None:
    logger = logging.getLogger(logger_name)
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


class QueueOnlyHandler(logging.Handler):
    """What a shipper does on the request thread, and nothing else: the
    record is queued as logging hands it over.

    Isolates the request thread's own cost from the shipping thread's
    competition for the CPU and the GIL. Old records fall off the end.
    """

    def __init__(self) -> None:
        super().__init__()
        self.records: collections.deque[object] = collections.deque(maxlen=10_000)

    def emit(self, record: logging.LogRecord) -> None:
        from django_reqlog.handlers.base import _queued

        if getattr(record, "event_id", None) is None:
            record.event_id = uuid.uuid4().hex
        self.records.append(_queued(record))  # as ShipperHandler.emit queues it


def install_logging(variant: Variant, workdir: str) -> Stack:
    """Wire the variant's handlers as its documented LOGGING setup would."""
    read_port = int(os.environ.get("REQLOG_BENCH_READ_PORT", "0"))
    stall_port = int(os.environ.get("REQLOG_BENCH_STALL_PORT", "0"))
    port = stall_port if variant.stalled else read_port
    stack = Stack()
    # Django's own loggers stay at their defaults for every variant.
    name = variant.name.removeprefix("asgi-").removesuffix("-py")
    if name == "reqlog-file":
        from django_reqlog.formatters import ECSFormatter

        file_handler = logging.FileHandler(os.path.join(workdir, f"reqlog-{os.getpid()}.json"))
        file_handler.setFormatter(ECSFormatter())
        _attach("django_reqlog", file_handler, logging.INFO)
        stack.handlers.append(file_handler)
        stack.drain = file_handler.flush
    elif name == "reqlog-queue":
        queue_only = QueueOnlyHandler()
        _attach("django_reqlog", queue_only, logging.INFO)
        stack.handlers.append(queue_only)
    elif name in ("reqlog-tcp", "reqlog-stalled", "reqlog-es"):
        from django_reqlog.handlers import ElasticsearchHandler, LogstashHandler, ShipperHandler

        spool = os.path.join(workdir, f"spool-{variant.name}-{os.getpid()}")
        shipper: ShipperHandler
        if name == "reqlog-es":
            shipper = ElasticsearchHandler(
                os.environ["REQLOG_TEST_ES_URL"],
                index="logs-django.reqlog-bench",
                spool_dir=spool,
                **es_options(),
            )
        else:
            shipper = LogstashHandler("127.0.0.1", port, spool_dir=spool)
        _attach("django_reqlog", shipper, logging.INFO)
        stack.handlers.append(shipper)
        # Stalled: everything queued either reaches the socket buffer or the spool.
        stack.drain = lambda: shipper.wait_idle(60.0 if not variant.stalled else 15.0) and None
    elif name in ("seed-tcp", "seed-stalled"):
        from logstash import TCPLogstashHandler

        seed = TCPLogstashHandler(
            "127.0.0.1", port, message_type="django", tags=["django.request"], version=1
        )
        _attach("seed.request", seed, logging.INFO)
        stack.handlers.append(seed)
    elif name == "request-logging":
        rl_handler = logging.FileHandler(os.path.join(workdir, f"rl-{os.getpid()}.log"))
        _attach("django.request", rl_handler, logging.DEBUG)
        stack.handlers.append(rl_handler)
        stack.drain = rl_handler.flush
    elif name == "drf-api-logger":
        from drf_api_logger import apps as dal_apps

        thread = dal_apps.LOGGER_THREAD

        def drain() -> None:
            # Its worker inserts every 10 s or per 50 rows; insert the rest now.
            if thread is not None:
                thread._start_bulk_insertion()

        stack.drain = drain
    return stack
