"""The values the commands read, and where each one comes from.

For every value, the first of these that has it wins:

1. the command option (``--url``...);
2. the environment variable (``REQLOG_ELASTICSEARCH_URL``...);
3. the Django setting of the same name, deprecated, read through ``conf``
   for one more release (using one says so on stderr and as a
   ``DeprecationWarning``);
4. for the connection only, the first ``ElasticsearchHandler`` that LOGGING
   puts on the ``django_reqlog`` logger, used when none of the above gives a
   URL;
5. the default.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.management.base import CommandParser

from django_reqlog.conf import conf
from django_reqlog.elastic.connection import Connection, handler_connection
from django_reqlog.elastic.errors import ElasticError
from django_reqlog.elastic.names import DEFAULT_SEARCH_TARGET


@dataclass(frozen=True)
class Value:
    """One value a command reads: its variable (and old setting) name and default."""

    name: str
    read_setting: Callable[[], Any]
    default: Any = None
    convert: Callable[[str], Any] = str


VALUES: dict[str, Value] = {
    "url": Value("REQLOG_ELASTICSEARCH_URL", lambda: conf.elasticsearch_url),
    "username": Value("REQLOG_ELASTICSEARCH_USERNAME", lambda: conf.elasticsearch_username),
    "password": Value("REQLOG_ELASTICSEARCH_PASSWORD", lambda: conf.elasticsearch_password),
    "api_key": Value("REQLOG_ELASTICSEARCH_API_KEY", lambda: conf.elasticsearch_api_key),
    "ca_certs": Value("REQLOG_ELASTICSEARCH_CA_CERTS", lambda: conf.elasticsearch_ca_certs),
    "index": Value(
        "REQLOG_ELASTICSEARCH_INDEX", lambda: conf.elasticsearch_index, DEFAULT_SEARCH_TARGET
    ),
    "namespace": Value(
        "REQLOG_ELASTICSEARCH_NAMESPACE", lambda: conf.elasticsearch_namespace, "default"
    ),
    "mode": Value("REQLOG_ELASTICSEARCH_MODE", lambda: conf.elasticsearch_mode, "auto"),
    "retention_days": Value(
        "REQLOG_ELASTICSEARCH_RETENTION_DAYS",
        lambda: conf.elasticsearch_retention_days,
        30,
        int,
    ),
    "kibana_url": Value("REQLOG_KIBANA_URL", lambda: conf.kibana_url),
}

CREDENTIALS = ("username", "password", "api_key", "ca_certs")
NO_CONNECTION = (
    "No Elasticsearch configured: pass --url, set the REQLOG_ELASTICSEARCH_URL environment "
    "variable, or configure an ElasticsearchHandler on the django_reqlog logger."
)


class Sources:
    """Resolves one command run's values and remembers the deprecated settings it used."""

    def __init__(self, options: Mapping[str, Any], environ: Mapping[str, str] | None = None):
        self.environ = os.environ if environ is None else environ
        self.options = dict(options)
        self.deprecated: list[str] = []
        self._announced = False
        for dest, flag in (("password", "--password-env"), ("api_key", "--api-key-env")):
            variable = self.options.get(f"{dest}_env")
            if variable:
                if not self.environ.get(variable):
                    raise ElasticError(f"{flag} {variable}: that environment variable is empty")
                self.options[dest] = self.environ[variable]

    def lookup(self, dest: str) -> tuple[Any, str] | None:
        """``(value, where from)`` from the option, variable or setting; ``None`` if none has it."""
        spec = VALUES[dest]
        given = self.options.get(dest)
        if given is not None and given != "":
            return given, "command line"
        text = self.environ.get(spec.name, "")
        if text:
            return _convert(spec, text), spec.name
        value = _read_setting(spec)
        # A setting equal to the default changes nothing, so it is not reported.
        if value is None or value == spec.default:
            return None
        if spec.name not in self.deprecated:
            self.deprecated.append(spec.name)
        return value, f"{spec.name} setting (deprecated)"

    def value(self, dest: str) -> Any:
        found = self.lookup(dest)
        return VALUES[dest].default if found is None else found[0]

    def announce(self, warn: Callable[[str], Any]) -> None:
        """Say once which deprecated settings this run took values from."""
        if not self.deprecated or self._announced:
            return
        self._announced = True
        message = (
            f"deprecated setting(s) used: {', '.join(self.deprecated)}. Django settings for the "
            "reqlog commands will be removed in the next release: use the command options or "
            "environment variables of the same names."
        )
        warnings.warn(message, DeprecationWarning, stacklevel=2)
        warn(f"warning: {message}")


def _convert(spec: Value, text: str) -> Any:
    try:
        return spec.convert(text)
    except ValueError:
        raise ElasticError(f"{spec.name}={text!r} is not a valid value") from None


def _read_setting(spec: Value) -> Any:
    try:
        return spec.read_setting()
    except (TypeError, ValueError) as exc:
        raise ElasticError(f"the {spec.name} setting is not valid: {exc}") from None


def resolve_connection(sources: Sources) -> Connection:
    """The URL by precedence; its credentials likewise, the handler's last."""
    found = sources.lookup("url")
    fallback = None
    if found is None:
        fallback = handler_connection()
        if fallback is None:
            raise ElasticError(NO_CONNECTION)
        found = (fallback.url, fallback.source)
    credentials = {}
    for dest in CREDENTIALS:
        given = sources.lookup(dest)
        credentials[dest] = given[0] if given else getattr(fallback, dest, None)
    url, source = found
    return Connection(url, source=source, **credentials)


def add_connection_arguments(parser: CommandParser) -> None:
    group = parser.add_argument_group(
        "connection (default: the environment variables named, then the first "
        "ElasticsearchHandler on the django_reqlog logger)"
    )
    group.add_argument("--url", help="Elasticsearch URL (REQLOG_ELASTICSEARCH_URL).")
    group.add_argument("--username", help="Basic-auth user (REQLOG_ELASTICSEARCH_USERNAME).")
    group.add_argument(
        "--password-env",
        metavar="VAR",
        help="Read the password from environment variable VAR, never from argv, which "
        "other users can see (REQLOG_ELASTICSEARCH_PASSWORD).",
    )
    group.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="Read an encoded API key from environment variable VAR; it wins over basic "
        "auth (REQLOG_ELASTICSEARCH_API_KEY).",
    )
    group.add_argument("--ca-certs", help="CA bundle for HTTPS (REQLOG_ELASTICSEARCH_CA_CERTS).")


def add_index_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--index",
        help="Index, alias, data stream or pattern to search (REQLOG_ELASTICSEARCH_INDEX, "
        f"default {DEFAULT_SEARCH_TARGET}).",
    )
