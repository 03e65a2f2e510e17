"""WSGI entry point: ``gunicorn reqlog_demo.wsgi`` from example_project/."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reqlog_demo.settings")

application = get_wsgi_application()
