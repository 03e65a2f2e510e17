"""Small helpers over the client's ``perform_request`` and its errors."""

from __future__ import annotations

from typing import Any

JSON_HEADERS = {"accept": "application/json", "content-type": "application/json"}
ACCEPT_JSON = {"accept": "application/json"}


def get_json(client: Any, path: str, **params: str) -> Any:
    """``GET path``; the parsed answer. Errors raise as the client raises them."""
    return client.perform_request("GET", path, headers=ACCEPT_JSON, params=params or None).body


def send_json(client: Any, method: str, path: str, body: Any = None, **params: str) -> Any:
    """``method path`` with a JSON body; the parsed answer."""
    headers = JSON_HEADERS if body is not None else ACCEPT_JSON
    return client.perform_request(
        method, path, body=body, headers=headers, params=params or None
    ).body


def status_of(exc: BaseException) -> int:
    """The HTTP status of a client error, 0 when it had no answer."""
    meta = getattr(exc, "meta", None)
    return int(getattr(meta, "status", 0) or 0)


def reason_of(exc: BaseException) -> str:
    """``type: reason`` from an Elasticsearch error body, else whatever it said."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return f"{error.get('type')}: {error.get('reason')}"
        return str(error or body)
    return str(body or exc)


def endpoint_missing(exc: BaseException) -> bool:
    """True when the REST endpoint itself is missing (its module is not installed)."""
    text = reason_of(exc)
    return status_of(exc) in (400, 404, 405) and (
        "no handler found" in text
        or "Incorrect HTTP method" in text
        or "invalid_index_name_exception" in text
    )


def already_exists(exc: BaseException) -> bool:
    return "resource_already_exists" in reason_of(exc)
