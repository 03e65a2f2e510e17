"""The Celery app of the Celery integration tests, laid out as Celery's
"First steps with Django" guide lays out a project's ``proj/celery.py``.

The test process imports it to send tasks (tests/helpers/integration_views.py); a real
``celery worker`` started by tests/test_celery.py runs them,
with Django set up by Celery's own Django fix-up (DJANGO_SETTINGS_MODULE).
The worker's log records go through RequestContextFilter and ECSFormatter
into the JSON-lines file named by REQLOG_TEST_CELERY_LOG.
"""

from __future__ import annotations

import logging.config
import os
from typing import Any

from celery import Celery, signals
from celery.utils.log import get_task_logger

import django_reqlog.celery

BROKER = os.environ.get("REQLOG_TEST_REDIS_URL", "redis://127.0.0.1:6379")

app = Celery("reqlog_tests")
app.conf.update(
    broker_url=f"{BROKER}/0",
    result_backend=f"{BROKER}/1",
    task_default_queue=os.environ.get("REQLOG_TEST_CELERY_QUEUE", "reqlog-tests"),
    broker_connection_retry_on_startup=True,
)
django_reqlog.celery.connect()

logger = get_task_logger(__name__)


@signals.setup_logging.connect
def worker_logging(**kwargs: Any) -> None:
    """The worker's logging: with a receiver here, Celery configures none of its own."""
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"request": {"()": "django_reqlog.filters.RequestContextFilter"}},
            "formatters": {"ecs": {"()": "django_reqlog.formatters.ECSFormatter"}},
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "filename": os.environ["REQLOG_TEST_CELERY_LOG"],
                    "filters": ["request"],
                    "formatter": "ecs",
                }
            },
            "root": {"handlers": ["file"], "level": "INFO"},
        }
    )


def reqlog_headers(request: Any) -> dict[str, Any]:
    """The reqlog headers a task was sent with."""
    return {
        name: getattr(request, name, None)
        for name in (
            django_reqlog.celery.HEADER_REQUEST_ID,
            django_reqlog.celery.HEADER_TRACE_ID,
            django_reqlog.celery.HEADER_PARENT_SPAN_ID,
        )
    }


@app.task(bind=True)
def first(self: Any, note: str) -> dict[str, Any]:
    """Logs, sends ``second``, and reports the reqlog headers it was sent with."""
    logger.info("first task: %s", note)
    sent = second.delay()
    return {"second": sent.id, "headers": reqlog_headers(self.request)}


@app.task(bind=True, max_retries=1)
def flaky(self: Any) -> dict[str, Any]:
    """Fails its first attempt; the retry reports the headers it was sent with."""
    logger.info("flaky attempt %d", self.request.retries)
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return reqlog_headers(self.request)


@app.task
def second() -> str:
    logger.info("second task")
    return "done"


@app.task
def unrelated() -> str:
    logger.info("unrelated task")
    return "done"
