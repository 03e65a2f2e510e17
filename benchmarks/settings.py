"""Minimal Django settings for the benchmark: one view, sessions and auth.

``REQLOG_BENCH_VARIANT`` picks the logging stack under test (see
``benchmarks/variants.py``); everything else is identical for every variant,
so the differences measured are the logging stack's own.
"""

from __future__ import annotations

import os

from benchmarks.variants import VARIANTS

VARIANT = VARIANTS[os.environ.get("REQLOG_BENCH_VARIANT", "floor")]
WORKDIR = os.environ.get("REQLOG_BENCH_WORKDIR", "/tmp")

SECRET_KEY = "benchmark-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "benchmarks.app"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(WORKDIR, f"db-{os.getpid()}.sqlite3"),
    }
}
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    *VARIANT.apps,
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    *VARIANT.middleware,
]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
# Logging is wired by benchmarks/variants.py once Django is set up, so the
# handlers can be reached for the final flush.
LOGGING_CONFIG = None

# django-reqlog: full capture with masking (README defaults plus a few rules).
REQLOG_CAPTURE_REQUEST_BODY = True
REQLOG_SENSITIVE_FIELDS = ["card_number", "cvv"]
REQLOG_SENSITIVE_VALUE_PATTERNS = [r"\b\d{3}-\d{2}-\d{4}\b"]

# drf-api-logger, as its README sets it up: rows go to the database from its
# background thread.
DRF_API_LOGGER_DATABASE = True

# django-request-logging's README configuration: bodies are logged at DEBUG.
REQUEST_LOGGING_MAX_BODY_LENGTH = 50000
