"""ASGI entry point: ``uvicorn reqlog_demo.asgi:application`` from example_project/."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reqlog_demo.settings")

application = get_asgi_application()
