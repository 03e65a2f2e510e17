"""Views covering the shapes a request logger meets: sync, async, DRF, streams, errors."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator, Iterator

from django.contrib.auth import authenticate, login
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response


class Boom(Exception):
    pass


def plain_ok(request: HttpRequest) -> HttpResponse:
    """The smallest view: what the middleware tests call it with directly."""
    return HttpResponse("ok", content_type="text/plain")


def _digest(request: HttpRequest) -> dict[str, object]:
    """What the view saw, so tests can prove the middleware changed nothing."""
    return {
        "body_sha256": hashlib.sha256(request.body).hexdigest(),
        "post": {k: request.POST.getlist(k) for k in request.POST},
        "files": {
            k: [hashlib.sha256(f.read()).hexdigest() for f in request.FILES.getlist(k)]
            for k in request.FILES
        },
    }


@csrf_exempt
def echo(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_digest(request))


@csrf_exempt
def form_echo(request: HttpRequest) -> JsonResponse:
    # Reads POST/FILES first (the multipart parser streams), then nothing else.
    return JsonResponse(
        {
            "post": {k: request.POST.getlist(k) for k in request.POST},
            "files": {
                k: [hashlib.sha256(f.read()).hexdigest() for f in request.FILES.getlist(k)]
                for k in request.FILES
            },
        }
    )


@csrf_exempt
def ignore_body(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ignored", content_type="text/plain")


@csrf_exempt
@sensitive_post_parameters("pin")
def sensitive(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(sorted(request.POST)), content_type="text/plain")


def hello(request: HttpRequest, name: str = "world") -> HttpResponse:
    return HttpResponse(f"hello {name}", content_type="text/plain")


def not_found(request: HttpRequest) -> HttpResponse:
    return HttpResponse("nope", status=404, content_type="text/plain")


def boom(request: HttpRequest) -> HttpResponse:
    raise Boom("kaboom")


def json_secret(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"token": "resp-secret-token-value", "ok": True})


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        for i in range(10):
            yield f"chunk-{i};".encode() * 100

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def file_download(request: HttpRequest) -> FileResponse:
    return FileResponse(io.BytesIO(b"0123456789" * 5000), filename="data.bin")


async def async_hello(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)
    return HttpResponse("async hello", content_type="text/plain")


async def async_stream(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(5):
            await asyncio.sleep(0)
            yield f"a{i}".encode() * 10

    return StreamingHttpResponse(chunks(), content_type="text/plain")


async def async_boom(request: HttpRequest) -> HttpResponse:
    raise Boom("async kaboom")


@api_view(["GET", "POST"])
def drf_echo(request: Request) -> Response:
    user = request.user
    return Response(
        {
            "data": request.data,
            "user": user.get_username() if user is not None and user.is_authenticated else None,
        }
    )


def too_many(request: HttpRequest) -> HttpResponse:
    """A rate limiter's answer: the view never looks at the user."""
    return HttpResponse("slow down", status=429, content_type="text/plain")


@csrf_exempt
def login_and_restore(request: HttpRequest) -> HttpResponse:
    """Logs a user in, then puts the previous ``request.user`` back, as
    django-allauth's headless app-client login does."""
    previous = request.user
    user = authenticate(
        request, username=request.POST.get("username"), password=request.POST.get("password")
    )
    if user is None:
        return HttpResponse("no", status=400, content_type="text/plain")
    login(request, user)
    request.user = previous
    return HttpResponse("logged in", content_type="text/plain")


def route_echo(request: HttpRequest, **kwargs: str) -> HttpResponse:
    """Answers any route: stands in for views whose URLs carry secrets."""
    return HttpResponse("ok", content_type="text/plain")
