"""The benchmark's URLconf, views, and the reconstructed seed-stack middleware."""

from __future__ import annotations

import json
import logging
import socket
import time
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.utils.deprecation import MiddlewareMixin
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def orders(request: HttpRequest) -> JsonResponse:
    # A typical small JSON API view: parse the body, answer with a few fields.
    data = json.loads(request.body)
    return JsonResponse({"id": 1, "items": len(data.get("items", ())), "ok": True}, status=201)


@csrf_exempt
async def orders_async(request: HttpRequest) -> JsonResponse:
    data = json.loads(request.body)
    return JsonResponse({"id": 1, "items": len(data.get("items", ())), "ok": True}, status=201)


urlpatterns = [
    path("api/orders/", orders, name="orders"),
    path("api/async/orders/", orders_async, name="orders-async"),
]


seed_logger = logging.getLogger("seed.request")


class SeedRequestLogMiddleware(MiddlewareMixin):
    """The original blog setup, reconstructed: the body is kept in
    ``process_request`` and a dict of request facts is logged in
    ``process_response`` through python-logstash's ``TCPLogstashHandler``
    (``version=1``), which formats and sends on the request thread.
    """

    def process_request(self, request: HttpRequest) -> None:
        request.start_time = time.time()  # type: ignore[attr-defined]
        request.req_body = request.body  # type: ignore[attr-defined]

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        body: Any = getattr(request, "req_body", b"")
        try:
            body = json.loads(body) if body else None
        except ValueError:
            body = body.decode("utf-8", "replace")
        user = getattr(request, "user", None)
        log_data = {
            "remote_address": request.META.get("REMOTE_ADDR"),
            "server_hostname": socket.gethostname(),
            "request_method": request.method,
            "request_url": request.build_absolute_uri(),
            "request_path": request.get_full_path(),
            "request_body": body,
            "user": str(user) if user is not None else None,
            "response_status": response.status_code,
            "run_time": time.time() - getattr(request, "start_time", time.time()),
        }
        seed_logger.info("request", extra=log_data)
        return response
