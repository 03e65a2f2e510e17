"""Settings for the test project under gunicorn in tests/handlers/test_files_under_gunicorn.py.

``REQLOG_FILES_HANDLER`` (JSON) is the ``LOGGING`` entry of the one handler
the ``django_reqlog`` logger writes through, so a test can run the same
traffic through JSONLinesFileHandler or through a handler it compares with.
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
    "handlers": {"events": {"formatter": "ecs", **json.loads(os.environ["REQLOG_FILES_HANDLER"])}},
    "loggers": {"django_reqlog": {"handlers": ["events"], "level": "INFO", "propagate": False}},
}
