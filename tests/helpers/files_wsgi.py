"""The test project's WSGI application for tests/handlers/test_files_under_gunicorn.py.

gunicorn ``--preload`` imports it in the master, which logs one line before
it forks its workers: the handler has then been used before the fork.
"""

from __future__ import annotations

import logging

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()

logging.getLogger("django_reqlog").warning(
    "files test: master ready", extra={"request_id": "master-ready"}
)
