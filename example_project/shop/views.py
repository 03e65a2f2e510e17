"""Views covering what a request logger meets in real life.

Sessions and tokens, a login taking a password, CRUD, validation errors, an
unhandled exception, a multipart upload, a streaming download, an async view
and a deliberately slow endpoint.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator
from typing import Any

from django.contrib.auth import authenticate, get_user_model, login, logout
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from rest_framework import permissions, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import api_view, permission_classes
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

import django_reqlog
from shop.models import Item
from shop.serializers import ItemSerializer, LoginSerializer, SignupSerializer


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse(
        "<h1>django-reqlog example project</h1>"
        "<p>Try <a href='/api/items/'>/api/items/</a>, /api/login/, /api/boom/, "
        "/api/export.csv, /api/async/, /api/slow/?ms=700</p>"
    )


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@django_reqlog.skip
def ping(request: HttpRequest) -> JsonResponse:
    """A keep-alive the front end polls: @django_reqlog.skip leaves it out of
    the logs (no event, and its response is left exactly as it is)."""
    return JsonResponse({"pong": True})


class LoginView(APIView):
    """Exchange username + password for a token; also opens a session."""

    # No session authentication here: the login form has no CSRF token yet.
    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]

    def post(self, request: Request) -> Response:
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
        )
        if user is None:
            return Response(
                {"detail": "invalid username or password"}, status=status.HTTP_401_UNAUTHORIZED
            )
        login(request._request, user)
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"username": user.get_username(), "token": token.key})


class LogoutView(APIView):
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SignupView(APIView):
    """Validation errors on purpose: the demo sends bad sign-ups."""

    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]

    def post(self, request: Request) -> Response:
        serializer = SignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        users = get_user_model()
        if users.objects.filter(username=data["username"]).exists():
            return Response({"username": ["already taken"]}, status=status.HTTP_409_CONFLICT)
        user = users.objects.create_user(data["username"], data["email"], data["password"])
        return Response({"id": user.pk, "username": user.get_username()}, status=201)


@api_view(["GET"])
@permission_classes([permissions.IsAuthenticated])
def me(request: Request) -> Response:
    return Response({"username": request.user.get_username(), "items": request.user.items.count()})


class ItemViewSet(viewsets.ModelViewSet):
    queryset = Item.objects.select_related("owner").all()
    serializer_class = ItemSerializer

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Custom fields on this request's event (labels.* in ECS), bound
        # before authentication so that refused requests carry them too.
        django_reqlog.bind(tenant=request.headers.get("X-Tenant", "public"), action=self.action)
        super().initial(request, *args, **kwargs)

    def perform_create(self, serializer: ItemSerializer) -> None:
        serializer.save(owner=self.request.user)


class InventoryUnavailable(RuntimeError):
    """What the demo's failing endpoint raises."""


@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def boom(request: Request) -> Response:
    # An unhandled exception: Django answers 500 and the event carries the trace.
    raise InventoryUnavailable("inventory backend timed out after 3 retries")


class UploadView(APIView):
    parser_classes = [MultiPartParser]
    permission_classes = [permissions.IsAuthenticated]

    def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            return Response({"file": ["this field is required"]}, status=400)
        digest = hashlib.sha256()
        size = 0
        for chunk in upload.chunks():
            digest.update(chunk)
            size += len(chunk)
        return Response(
            {"name": upload.name, "size": size, "sha256": digest.hexdigest()},
            status=status.HTTP_201_CREATED,
        )


@api_view(["GET"])
@permission_classes([permissions.IsAuthenticated])
def export_csv(request: Request) -> StreamingHttpResponse:
    """Stream a CSV of ``rows`` lines without building it in memory."""
    try:
        rows = min(max(int(request.query_params.get("rows", "1000")), 1), 1_000_000)
    except ValueError:
        rows = 1000

    def generate() -> Iterator[bytes]:
        yield b"id,sku,name,price,quantity\n"
        for number in range(1, rows + 1):
            row = f"{number},SKU-{number:07d},Item number {number},{number % 97}.99,{number % 13}\n"
            yield row.encode()

    response = StreamingHttpResponse(generate(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="inventory.csv"'
    return response


async def async_stock(request: HttpRequest) -> JsonResponse:
    """An async view; under gunicorn's sync workers Django runs it in an event loop."""
    await asyncio.sleep(0.01)
    return JsonResponse({"warehouse": request.GET.get("warehouse", "main"), "in_stock": 42})


def slow(request: HttpRequest) -> JsonResponse:
    try:
        delay_ms = min(max(int(request.GET.get("ms", "800")), 0), 5000)
    except ValueError:
        delay_ms = 800
    time.sleep(delay_ms / 1000)
    return JsonResponse({"slept_ms": delay_ms})
