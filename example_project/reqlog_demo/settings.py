"""Settings of the django-reqlog example project (SQLite, DRF, env-driven logging).

Run from example_project/: ``python manage.py runserver`` or
``gunicorn reqlog_demo.wsgi``. Nothing here is fit for production as-is:
the secret key has a throwaway default and the database is a local file.
"""

from __future__ import annotations

import os
from pathlib import Path

from reqlog_demo.logging_config import build_logging

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("REQLOG_DEMO_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-only-not-a-real-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_reqlog",
    "shop",
]

MIDDLEWARE = [
    # First, so it logs the response the client gets (redirects and
    # rejections by the middleware below included) and times the whole stack.
    "django_reqlog.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "reqlog_demo.urls"
WSGI_APPLICATION = "reqlog_demo.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("REQLOG_DEMO_DB", str(VAR_DIR / "db.sqlite3")),
        # Several gunicorn workers write to one file: wait instead of failing.
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"

# Big enough for the demo's multi-megabyte upload to be a real multipart file.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 20,
}

# --- django-reqlog -----------------------------------------------------------
# Headers and response bodies are captured so the demo can prove that the
# Authorization header, session cookie and returned token are masked.
REQLOG_CAPTURE_HEADERS = True
REQLOG_CAPTURE_RESPONSE_BODY = True
REQLOG_MAX_BODY_BYTES = 4096
REQLOG_SLOW_REQUEST_MS = int(os.environ.get("REQLOG_SLOW_REQUEST_MS", "500"))
# The demo plays a load balancer on loopback; X-Forwarded-For hops to its
# left are walked right to left, so a forged left-most address never wins.
REQLOG_TRUSTED_PROXIES = [
    p.strip() for p in os.environ.get("REQLOG_TRUSTED_PROXIES", "127.0.0.1,::1").split(",") if p
]
REQLOG_SENSITIVE_FIELDS = ["iban"]
# Each request's database queries: count, total and slowest time (reqlog.db.*).
REQLOG_CAPTURE_DB = True
# Probes would drown the real traffic: skip them like most sites do.
REQLOG_SKIP_PATHS = [r"^/static/", r"^/health/live$"]

LOGGING = build_logging(os.environ, VAR_DIR)
