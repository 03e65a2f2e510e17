"""Where the commands connect, with which credentials, and what a failure means."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django_reqlog.elastic import rest
from django_reqlog.elastic.client import make_client, safe_url
from django_reqlog.elastic.errors import ElasticError
from django_reqlog.elastic.kibana import api_key_authorization, basic_authorization


@dataclass(frozen=True)
class Connection:
    url: str
    username: str | None = None
    password: str | None = None
    api_key: str | tuple[str, str] | None = None
    ca_certs: str | None = None
    source: str = "command line"

    def client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"request_timeout": 10}
        # The client refuses both at once; an API key is the narrower grant.
        if self.api_key:
            options["api_key"] = self.api_key
        elif self.username:
            options["basic_auth"] = (self.username, self.password or "")
        if self.ca_certs:
            options["ca_certs"] = self.ca_certs
        return options

    def authorization(self) -> str | None:
        """The same credentials as an HTTP ``Authorization`` value (for Kibana)."""
        if self.api_key:
            return api_key_authorization(self.api_key)
        if self.username:
            return basic_authorization(self.username, self.password or "")
        return None

    def describe(self) -> str:
        # The client also takes a user from the URL; name it, never the password.
        username = self.username or urlsplit(self.url).username
        auth = "api key" if self.api_key else (f"user {username}" if username else "no auth")
        return f"{safe_url(self.url)} ({auth}, from {self.source})"


def open_client(conn: Connection, **options: Any) -> Any:
    """A client for ``conn``, after one request that proves it answers and accepts us.

    The probe is cluster health, not ``info()``: some distributions have no
    ``GET /``. Any answer but 401 will do, since a read-only user may lack
    cluster privileges.
    """
    from elasticsearch import ApiError, AuthenticationException, TransportError

    client = make_client(conn.url, **{**conn.client_options(), **options})
    try:
        client.cluster.health(timeout="5s")
    except AuthenticationException as exc:
        client.close()
        raise explain(exc, conn) from None
    except ApiError:
        pass
    except TransportError as exc:
        client.close()
        raise explain(exc, conn) from None
    return client


def explain(exc: BaseException, conn: Connection, needs: str = "") -> ElasticError:
    """Turn a client exception into one line an operator can act on.

    ``needs`` names the privileges the failed step requires, for a 403.
    """
    import elasticsearch

    where = conn.describe()
    if isinstance(exc, elasticsearch.AuthenticationException):
        return ElasticError(f"Elasticsearch at {where} rejected the credentials (401).")
    if isinstance(exc, elasticsearch.AuthorizationException):
        hint = f": {needs}" if needs else ""
        return ElasticError(
            f"The user at {where} lacks a privilege (403){hint}. {rest.reason_of(exc)}"
        )
    if isinstance(exc, elasticsearch.TransportError):
        detail = getattr(exc, "message", None) or exc
        return ElasticError(f"Elasticsearch at {where} is unreachable: {detail}")
    if isinstance(exc, elasticsearch.ApiError):
        status = rest.status_of(exc)
        return ElasticError(f"Elasticsearch at {where} answered {status}: {rest.reason_of(exc)}")
    return ElasticError(f"Elasticsearch at {where} failed: {exc!r}")


def handlers_of(logger_name: str = "django_reqlog") -> list[logging.Handler]:
    """Handlers a record on ``logger_name`` reaches, in order, following propagation."""
    found: list[logging.Handler] = []
    current: logging.Logger | None = logging.getLogger(logger_name)
    while current is not None:
        found.extend(h for h in current.handlers if h not in found)
        current = current.parent if current.propagate else None
    return found


def handler_connection() -> Connection | None:
    """The connection of the first ``ElasticsearchHandler`` a ``django_reqlog`` record reaches."""
    from django_reqlog.handlers.elasticsearch import ElasticsearchHandler

    for handler in handlers_of():
        if isinstance(handler, ElasticsearchHandler):
            options = handler.client_options
            username, password = options.get("basic_auth") or (None, None)
            return Connection(
                handler.hosts[0],
                username,
                password,
                options.get("api_key"),
                options.get("ca_certs"),
                source=f"LOGGING handler {handler.get_name() or type(handler).__name__}",
            )
    return None
