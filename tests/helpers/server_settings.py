"""Settings for the test project run under a real gunicorn or uvicorn.

``REQLOG_TEST_SETTINGS`` (JSON) adds or replaces settings, so one test can
start a server with a bad value; the ``django_reqlog`` logger writes ECS
lines to the file named by ``REQLOG_TEST_EVENTS``. Configured through
``LOGGING``, as a project would, so records reach it only once Django has
set logging up.
"""

from __future__ import annotations

import json
import os

from tests.settings import *  # noqa: F403

globals().update(json.loads(os.environ.get("REQLOG_TEST_SETTINGS", "{}")))

LOGGING_CONFIG = "logging.config.dictConfig"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"ecs": {"()": "django_reqlog.formatters.ECSFormatter"}},
    "handlers": {
        "events": {
            "class": "logging.FileHandler",
            "filename": os.environ["REQLOG_TEST_EVENTS"],
            "formatter": "ecs",
        }
    },
    "loggers": {"django_reqlog": {"handlers": ["events"], "level": "INFO", "propagate": False}},
}
