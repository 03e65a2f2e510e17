"""Build the example project's ``LOGGING`` from environment variables.

- ``REQLOG_ELASTICSEARCH_URL`` (with ``REQLOG_ELASTICSEARCH_USERNAME`` /
  ``_PASSWORD``, ``_API_KEY``, ``_CA_CERTS``) ships events to Elasticsearch;
- ``REQLOG_LOGSTASH_HOST`` / ``REQLOG_LOGSTASH_PORT`` ships them to Logstash;
- with neither, the embedded default writes ECS JSON lines to a file under
  ``var/`` (``REQLOG_LOG_FILE`` forces that file on in any mode), through
  ``JSONLinesFileHandler``: gunicorn's workers share it safely, and logrotate
  may rotate it while they write (docs/files.md).

A short human line per request always goes to the console.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_LOG_NAME = "reqlog.ecs.json"


def selected_outputs(env: Mapping[str, str]) -> list[str]:
    """Which outputs the environment selects: a subset of elasticsearch/logstash/file."""
    outputs = []
    if env.get("REQLOG_ELASTICSEARCH_URL", "").strip():
        outputs.append("elasticsearch")
    if env.get("REQLOG_LOGSTASH_HOST", "").strip():
        outputs.append("logstash")
    if not outputs or env.get("REQLOG_LOG_FILE", "").strip():
        outputs.append("file")
    return outputs


def log_file_path(env: Mapping[str, str], var_dir: Path) -> Path:
    configured = env.get("REQLOG_LOG_FILE", "").strip()
    return Path(configured) if configured else var_dir / DEFAULT_LOG_NAME


def build_logging(env: Mapping[str, str], var_dir: Path) -> dict[str, Any]:
    outputs = selected_outputs(env)
    handlers: dict[str, dict[str, Any]] = {
        "reqlog_console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "reqlog_console",
        },
    }
    if "file" in outputs:
        path = log_file_path(env, var_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Not RotatingFileHandler: each gunicorn worker would rotate on its
        # own and keep writing into files another worker renamed or deleted.
        handlers["reqlog_file"] = {
            "class": "django_reqlog.handlers.JSONLinesFileHandler",
            "filename": str(path),
            "formatter": "reqlog_ecs",
        }
    if "elasticsearch" in outputs:
        es: dict[str, Any] = {
            "class": "django_reqlog.handlers.ElasticsearchHandler",
            "hosts": [env["REQLOG_ELASTICSEARCH_URL"].strip()],
            # Outages are buffered next to the other demo files, not in /tmp.
            "spool_dir": str(var_dir / "spool" / "elasticsearch"),
        }
        if env.get("REQLOG_ELASTICSEARCH_INDEX"):
            # `manage.py reqlog_setup` prints the write target to use here.
            es["index"] = env["REQLOG_ELASTICSEARCH_INDEX"]
        if env.get("REQLOG_ELASTICSEARCH_API_KEY"):
            es["api_key"] = env["REQLOG_ELASTICSEARCH_API_KEY"]
        elif env.get("REQLOG_ELASTICSEARCH_USERNAME"):
            es["basic_auth"] = [
                env["REQLOG_ELASTICSEARCH_USERNAME"],
                env.get("REQLOG_ELASTICSEARCH_PASSWORD", ""),
            ]
        if env.get("REQLOG_ELASTICSEARCH_CA_CERTS"):
            es["ca_certs"] = env["REQLOG_ELASTICSEARCH_CA_CERTS"]
        handlers["reqlog_elasticsearch"] = es
    if "logstash" in outputs:
        handlers["reqlog_logstash"] = {
            "class": "django_reqlog.handlers.LogstashHandler",
            "host": env["REQLOG_LOGSTASH_HOST"].strip(),
            "port": int(env.get("REQLOG_LOGSTASH_PORT", "5000")),
            "spool_dir": str(var_dir / "spool" / "logstash"),
        }
    return {
        "version": 1,
        # Django's own loggers keep their defaults; we only add ours.
        "disable_existing_loggers": False,
        "formatters": {
            "reqlog_ecs": {"()": "django_reqlog.formatters.ECSFormatter"},
            "reqlog_console": {"()": "django_reqlog.formatters.ConsoleFormatter"},
        },
        "handlers": handlers,
        "loggers": {
            "django_reqlog": {
                "handlers": list(handlers),
                "level": env.get("REQLOG_LOG_LEVEL", "INFO"),
                "propagate": False,
            },
        },
    }
