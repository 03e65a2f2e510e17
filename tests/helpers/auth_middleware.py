"""Authentication the way other packages do it, for the user-capture tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject


class LazyHeaderUserMiddleware:
    """Sets a lazy ``request.user`` loaded from the ``X-Test-User`` header, as
    django-allauth's stateless JWT authentication does: nothing is queried
    unless the application reads the user."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        name = request.headers.get("X-Test-User")
        if name is not None:
            request.user = SimpleLazyObject(lambda: User.objects.get(username=name))
        return self.get_response(request)
