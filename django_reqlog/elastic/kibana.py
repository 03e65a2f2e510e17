"""Import saved objects through Kibana's ``_import`` API.

Standard library only and no Django: ``reqlog_setup --kibana-url`` and the
compose stack's ``elk/setup/setup.py`` both send the same request from here.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from django_reqlog.elastic.errors import ElasticError

IMPORT_PATH = "/api/saved_objects/_import?overwrite=true"


def multipart(field: str, filename: str, content: bytes) -> tuple[bytes, str]:
    """A one-file ``multipart/form-data`` body and its content type."""
    boundary = uuid.uuid4().hex
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        "Content-Type: application/ndjson\r\n\r\n"
    ).encode()
    return (
        head + content + f"\r\n--{boundary}--\r\n".encode(),
        f"multipart/form-data; boundary={boundary}",
    )


def basic_authorization(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return f"Basic {token}"


def api_key_authorization(api_key: str | tuple[str, str]) -> str:
    """``ApiKey`` header value for an encoded key or an ``(id, key)`` pair."""
    if isinstance(api_key, tuple):
        api_key = base64.b64encode(f"{api_key[0]}:{api_key[1]}".encode()).decode()
    return f"ApiKey {api_key}"


def import_ndjson(
    kibana_url: str,
    path: Path,
    *,
    authorization: str | None = None,
    cafile: str | None = None,
    timeout: float = 30.0,
) -> int:
    """POST one NDJSON file (overwriting); the number of objects Kibana imported."""
    body, content_type = multipart("file", path.name, path.read_bytes())
    headers = {"kbn-xsrf": "reqlog-setup", "Content-Type": content_type}
    if authorization:
        headers["Authorization"] = authorization
    request = urllib.request.Request(
        kibana_url.rstrip("/") + IMPORT_PATH, data=body, headers=headers, method="POST"
    )
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise ElasticError(f"Kibana import of {path.name} failed: {exc.code} {exc.reason}") from exc
    except OSError as exc:
        raise ElasticError(f"Kibana at {kibana_url} is unreachable: {exc}") from exc
    if not answer.get("success", False):
        raise ElasticError(f"Kibana rejected {path.name}: {answer.get('errors')}")
    return int(answer.get("successCount", 0))
