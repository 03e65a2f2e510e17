"""Private Django attributes, each with the reason no public API serves.

Everything else in the package uses public interfaces only. Each read here
has a test per supported Django version (tests/test_compat.py), so a
Django release that renames one fails that test instead of silently losing
a fact; every function also degrades to "unknown" when the attribute is gone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.functional import LazyObject, empty


def evaluated(value: Any) -> Any:
    """``value`` itself, or the object a lazy proxy wraps; None when the proxy
    was never evaluated.

    Why private: a lazy ``request.user`` must be read only if the application
    already loaded it, because loading it runs queries. The only way to tell
    is ``LazyObject._wrapped``, which is ``empty`` until first use; any
    public access to the proxy evaluates it. It is read from the instance's
    own dict: a Django that renamed it then reads as "not evaluated", where
    an attribute lookup would fall through to the proxy's ``__getattr__``.
    """
    if not isinstance(value, LazyObject):
        return value
    wrapped = vars(value).get("_wrapped", empty)
    return None if wrapped is empty else wrapped


def read_started(request: HttpRequest) -> bool:
    """True once something read the request stream (``request.POST``,
    ``request.read()``, an upload handler).

    Why private: the body tee may only be put in front of a stream nobody has
    read from, or it would see a body without its beginning; Django records
    that in ``HttpRequest._read_started`` and nowhere public.
    """
    return bool(getattr(request, "_read_started", False))


def request_stream(request: HttpRequest) -> Any:
    """The stream ``request.body``, ``request.POST`` and ``request.read()``
    read from; None if this request has none.

    Why private: body capture keeps the bytes the application reads as it
    reads them. Wrapping ``HttpRequest._stream`` is the only way to see them
    without reading the body on the application's behalf (which would buffer
    uploads and could raise ``RequestDataTooBig`` into the view).
    """
    return getattr(request, "_stream", None)


def set_request_stream(request: HttpRequest, stream: Any) -> None:
    request._stream = stream


def on_close(response: HttpResponseBase, callback: Callable[[], None]) -> bool:
    """Run ``callback`` when the server closes ``response``; False if this
    Django offers no hook.

    Why private: a streaming response's event can only be emitted once the
    server has sent (or given up on) the stream. ``close()`` runs
    ``HttpResponseBase._resource_closers``, Django's own list for exactly
    this; there is no public registration.
    """
    closers = getattr(response, "_resource_closers", None)
    if not isinstance(closers, list):
        return False
    closers.append(callback)
    return True
