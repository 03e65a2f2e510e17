"""Views for the integration tests of issue 17: per-view options, bound
fields and database query counts (tests/helpers/view_control_urls.py routes them)."""

from __future__ import annotations

import asyncio
import hashlib

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

import django_reqlog


def _text(request: HttpRequest, text: str = "ok") -> HttpResponse:
    return HttpResponse(text, content_type="text/plain")


# -- @skip and @options ---------------------------------------------------------


def plain(request: HttpRequest) -> HttpResponse:
    return _text(request)


@django_reqlog.skip
def skipped(request: HttpRequest) -> HttpResponse:
    return _text(request)


@django_reqlog.skip
async def async_skipped(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)
    return _text(request)


@django_reqlog.skip
def skipped_boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("skipped view failed")


@csrf_exempt
@django_reqlog.options(capture_request_body=False)
def no_body(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"sha256": hashlib.sha256(request.body).hexdigest()})


@csrf_exempt
@django_reqlog.options(capture_request_body=True)
def with_body(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"sha256": hashlib.sha256(request.body).hexdigest()})


@django_reqlog.options(capture_request_body=False)
def form_no_body(request: HttpRequest) -> HttpResponse:
    return _text(request, str(sorted(request.POST)))


@django_reqlog.options(capture_request_body=True)
def form_with_body(request: HttpRequest) -> HttpResponse:
    return _text(request, str(sorted(request.POST)))


ACCOUNT = {"iban": "DE89370400440532013000", "employee_no": "E-1234", "note": "visible"}


@django_reqlog.options(capture_response_body=True, sensitive_fields=["iban", "Employee-No"])
async def async_response_body(request: HttpRequest) -> JsonResponse:
    await asyncio.sleep(0)
    return JsonResponse(ACCOUNT)


def same_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(ACCOUNT)


@django_reqlog.options(sample_rate=0.0)
def never_sampled(request: HttpRequest) -> HttpResponse:
    return _text(request)


@method_decorator(django_reqlog.skip, name="dispatch")
class SkippedDispatch(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return _text(request)


@django_reqlog.options(capture_response_body=True)
class ResponseBodyView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return _text(request, "class-wide body")

    @method_decorator(django_reqlog.skip)
    def delete(self, request: HttpRequest) -> HttpResponse:
        return _text(request, "deleted")


class PlainView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return _text(request, "plain class body")


class ItemViewSet(viewsets.ViewSet):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    def list(self, request: Request) -> Response:
        return Response({"items": []})

    @django_reqlog.skip
    @action(detail=False, methods=["get"])
    def heartbeat(self, request: Request) -> Response:
        return Response({"alive": True})

    @action(detail=True, methods=["post"])
    @django_reqlog.options(capture_request_body=False, sensitive_fields=["reason"])
    def refund(self, request: Request, pk: str | None = None) -> Response:
        return Response({"refunded": pk, "reason": "given"})


@django_reqlog.options(capture_response_body=True)
class QuietViewSet(viewsets.ViewSet):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    def list(self, request: Request) -> Response:
        return Response({"quiet": True})


# -- bind() -----------------------------------------------------------------------


def _tag_order(order_id: int) -> None:
    """Something a view calls: it binds too."""
    django_reqlog.bind(order_id=order_id)


def binds(request: HttpRequest) -> HttpResponse:
    django_reqlog.bind(tenant="acme", plan="pro")
    _tag_order(42)
    return _text(request)


async def async_binds(request: HttpRequest) -> HttpResponse:
    django_reqlog.bind(tenant="acme")
    await asyncio.gather(_bind_later("left", 1), _bind_later("right", 2))
    await sync_to_async(_tag_order)(7)
    return _text(request)


async def binds_echo(request: HttpRequest) -> HttpResponse:
    """Binds the caller's own value before and after other requests ran."""
    who = request.GET["who"]
    django_reqlog.bind(who=who)
    await asyncio.sleep(0.01)
    django_reqlog.bind(after=who)
    return _text(request)


async def _bind_later(name: str, value: int) -> None:
    await asyncio.sleep(0)
    django_reqlog.bind(**{name: value})


def binds_everything(request: HttpRequest) -> HttpResponse:
    """Every kind of value, secrets, bad names, too many fields, a reserved name."""
    django_reqlog.bind(
        tenant="acme",
        ratio=0.25,
        flag=True,
        card=4111111111111111,
        api_token="abc",
        note="password=hunter2 and Bearer abcdefghijklmnop",
        items=[1, 2],
        status="mine",
        cleared="soon",
    )
    django_reqlog.bind(cleared=None, **{"bad.name": 1, "": 2, "_hidden": 3})
    django_reqlog.bind(**{f"extra_{n}": n for n in range(40)})
    return _text(request)


def binds_then_fails(request: HttpRequest) -> HttpResponse:
    django_reqlog.bind(tenant="acme")
    raise RuntimeError("after binding")


# -- database queries ------------------------------------------------------------


def queries(request: HttpRequest) -> JsonResponse:
    users = get_user_model()
    count = users.objects.count()
    names = list(users.objects.values_list("username", flat=True)[:5])
    Group.objects.filter(name="x' OR 1=1 --").exists()
    other = connections["other"].cursor()
    other.execute("SELECT 1 + 41")
    (answer,) = other.fetchone()
    return JsonResponse({"count": count, "names": names, "answer": answer})


def failing_query(request: HttpRequest) -> HttpResponse:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table")
    return _text(request)


async def async_queries(request: HttpRequest) -> JsonResponse:
    users = get_user_model()
    count = await users.objects.acount()
    exists = await sync_to_async(Group.objects.filter(name="staff").exists)()
    return JsonResponse({"count": count, "exists": exists})


def no_queries(request: HttpRequest) -> HttpResponse:
    return _text(request)
