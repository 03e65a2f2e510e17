"""Views that log through the application's own logger, for the integration tests."""

from __future__ import annotations

import asyncio
import logging

from django.http import HttpRequest, HttpResponse, JsonResponse

app_log = logging.getLogger("tests.integration.app")


def sync_logs(request: HttpRequest) -> HttpResponse:
    app_log.info("in the sync view")
    return HttpResponse("ok", content_type="text/plain")


async def async_logs(request: HttpRequest) -> HttpResponse:
    app_log.info("before the await")
    await asyncio.sleep(0)
    app_log.info("after the await")
    return HttpResponse("ok", content_type="text/plain")


def sends_task(request: HttpRequest) -> JsonResponse:
    """Sends a Celery task (the Celery test's app, imported only when called)."""
    from tests.helpers.celery_app import first

    app_log.info("sending the task")
    result = first.delay("from the view")
    return JsonResponse({"task_id": result.id}, status=202)


def sends_flaky_task(request: HttpRequest) -> JsonResponse:
    from tests.helpers.celery_app import flaky

    return JsonResponse({"task_id": flaky.delay().id}, status=202)
