"""Views for the privacy and transparency suites (routed by tests/helpers/privacy_urls.py).

Each view reports what it saw of the request in its response, so comparing
responses with and without the middleware compares what the application saw.
The ``mode`` query parameter picks the order in which the request is read,
because that order is what breaks naive body capture.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tempfile
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.request import RawPostDataException
from django.views.decorators.csrf import csrf_exempt
from rest_framework.decorators import api_view, parser_classes
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response


class Planned(Exception):
    """Raised on purpose by ``raising``; its message names what the view saw."""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files(request: HttpRequest) -> dict[str, list[list[str | int | None]]]:
    return {
        key: [[f.name, f.size, f.content_type, _sha(f.read())] for f in request.FILES.getlist(key)]
        for key in sorted(request.FILES)
    }


def _post(request: HttpRequest) -> dict[str, list[str]]:
    return {key: request.POST.getlist(key) for key in sorted(request.POST)}


def _guard(step: Any) -> Any:
    # Errors Django raises for the request itself (too big, read twice) are
    # part of what the view saw; report them instead of failing the request.
    try:
        return step()
    except (RequestDataTooBig, RawPostDataException) as exc:
        return f"!{type(exc).__name__}"


def observe(request: HttpRequest) -> dict[str, Any]:
    """Read the request in the order ``mode`` asks for and describe what was read."""
    mode = request.GET.get("mode", "body")
    seen: dict[str, Any] = {"mode": mode, "method": request.method}
    if mode == "body":
        seen["body"] = _guard(lambda: _sha(request.body))
        seen["post"] = _guard(lambda: _post(request))
        seen["files"] = _guard(lambda: _files(request))
    elif mode == "post":
        seen["post"] = _guard(lambda: _post(request))
        seen["files"] = _guard(lambda: _files(request))
        seen["body"] = _guard(lambda: _sha(request.body))
    elif mode == "stream":
        chunks = []
        while True:
            chunk = request.read(7919)
            if not chunk:
                break
            chunks.append(chunk)
        seen["read"] = _sha(b"".join(chunks))
        seen["post"] = _guard(lambda: _post(request))
    elif mode == "lines":
        seen["lines"] = [_sha(line) for line in request.readlines()]
    elif mode == "partial":
        seen["head"] = _sha(request.read(100))
    elif mode == "ignore":
        pass
    return seen


@csrf_exempt
def echo(request: HttpRequest) -> JsonResponse:
    return JsonResponse(observe(request))


@csrf_exempt
def raw(request: HttpRequest) -> HttpResponse:
    """Returns the query parameter ``body`` (or the request body) as given."""
    content = request.GET.get("body")
    data = content.encode() if content is not None else request.body
    return HttpResponse(data, content_type=request.GET.get("ct", "application/octet-stream"))


@csrf_exempt
def streaming(request: HttpRequest) -> StreamingHttpResponse:
    seen = json.dumps(observe(request), sort_keys=True).encode()

    def chunks() -> Iterator[bytes]:
        yield seen
        for index in range(int(request.GET.get("chunks", "3"))):
            yield f"chunk {index}\n".encode() * 50

    response = StreamingHttpResponse(chunks(), content_type="text/plain")
    response["X-Seen"] = _sha(seen)
    return response


@csrf_exempt
def file_response(request: HttpRequest) -> FileResponse:
    seen = json.dumps(observe(request), sort_keys=True).encode()
    size = int(request.GET.get("size", "70000"))
    payload = seen + bytes(range(256)) * (size // 256 + 1)
    if request.GET.get("disk"):
        # FileResponse closes the file when the response is closed.
        handle = tempfile.TemporaryFile()  # noqa: SIM115
        handle.write(payload)
        handle.seek(0)
        return FileResponse(handle, filename="data.bin")
    return FileResponse(io.BytesIO(payload), filename="report.csv", as_attachment=True)


@csrf_exempt
def raising(request: HttpRequest) -> HttpResponse:
    raise Planned(json.dumps(observe(request), sort_keys=True))


@csrf_exempt
def gzip_echo(request: HttpRequest) -> JsonResponse:
    """Decompresses a gzip body the way an application would."""
    try:
        inflated = gzip.decompress(request.body)
    except (OSError, EOFError):
        return JsonResponse({"gzip": "invalid", "body": _sha(request.body)})
    return JsonResponse({"gzip": _sha(inflated), "body": _sha(request.body)})


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@parser_classes([JSONParser, FormParser, MultiPartParser])
def drf(request: Request) -> Response:
    data = request.data
    if hasattr(data, "lists"):
        described: Any = {
            key: [[v.name, v.size, _sha(v.read())] if hasattr(v, "read") else v for v in values]
            for key, values in sorted(data.lists())
        }
    else:
        described = data
    return Response({"data": described, "query": dict(sorted(request.query_params.items()))})


@csrf_exempt
def secret_response(request: HttpRequest) -> HttpResponse:
    """Returns the request body as the response, in the request's content type."""
    return HttpResponse(request.body, content_type=request.content_type or "text/plain")
