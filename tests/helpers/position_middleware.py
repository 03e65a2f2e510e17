"""Middleware for the position tests: one that takes time of its own."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

TIMINGS: list[int] = []


class TimedMiddleware:
    """Works (sleeps) before and after the rest of the stack, and records how
    long its own call took, from a clock it reads outside of us."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        start = time.perf_counter_ns()
        time.sleep(0.002)
        response = self.get_response(request)
        time.sleep(0.002)
        TIMINGS.append(time.perf_counter_ns() - start)
        return response


class FormReaderMiddleware:
    """Reads ``request.POST`` before the view, as some rate limiters and
    audit middleware do; a multipart body is then parsed from the stream."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        request.POST  # noqa: B018 - reading it is the point
        return self.get_response(request)
