"""What the kit creates in Elasticsearch, by name."""

from __future__ import annotations

from django_reqlog.elastic.errors import ElasticError

COMPONENT_MAPPINGS = "django-reqlog@mappings"
COMPONENT_SETTINGS = "django-reqlog@settings"
DATA_STREAM_TEMPLATE = "logs-django.reqlog"
ALIAS_TEMPLATE = "reqlog-events"
ALIAS = "reqlog-events"
POLICY = "django-reqlog"
DATASET = "django.reqlog"
MODES = ("auto", "data_stream", "alias")

# What the check and the report search when no index is given: the data
# stream family and the write-alias fallback.
DEFAULT_SEARCH_TARGET = "logs-django.reqlog-*,reqlog-events*"


def data_stream_name(namespace: str) -> str:
    """``logs-django.reqlog-<namespace>``, Elastic's ``logs-<dataset>-<namespace>`` naming."""
    if not namespace or "-" in namespace or namespace != namespace.lower():
        raise ElasticError(f"namespace {namespace!r} must be lower-case and contain no '-'")
    return f"logs-{DATASET}-{namespace}"
