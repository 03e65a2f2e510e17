"""``RequestLogMiddleware``: one structured log record per request.

The request thread only copies raw facts (a bounded body prefix, a few META
values, the status, byte counts and timings); parsing, masking and
serialisation happen when the record is formatted. Nothing here may change
what the view or the client sees, and no failure of ours reaches the
application: the response always goes out.
"""

from __future__ import annotations

import logging
import os
import random
import re
import sys
import time
from collections.abc import Awaitable, Callable
from contextvars import Token
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.core.signals import got_request_exception, setting_changed
from django.http import HttpRequest
from django.http.response import HttpResponseBase, ResponseHeaders
from django.utils.functional import SimpleLazyObject, empty

from django_reqlog._record import Site, make_record, origin
from django_reqlog._stderr import warn
from django_reqlog.capture import CountingIterator, TeeStream, once
from django_reqlog.conf import clear_caches, conf, derived, register_cache_clearer
from django_reqlog.event import EventMessage, RequestFacts, is_textual, record_extra
from django_reqlog.frozen import request_event
from django_reqlog.request_id import _current, accept_or_generate, trace_id_from_traceparent

logger = logging.getLogger("django_reqlog")

_EXC_ATTR = "_reqlog_exc_info"
_SESSION_KEY = "_auth_user_id"  # django.contrib.auth.SESSION_KEY, without importing auth


class _Config:
    """The ``REQLOG_*`` values the request path reads, read once.

    Each ``conf`` property goes through ``django.conf.settings`` (a lazy
    object, and an AttributeError for every setting left at its default);
    a dozen of those per request were a visible share of the middleware's
    cost. The snapshot is dropped on ``setting_changed``, so
    ``override_settings`` keeps working.
    """

    __slots__ = (
        "capture_headers",
        "capture_request_body",
        "capture_response_body",
        "enabled",
        "max_body_bytes",
        "request_id_header",
        "request_id_header_key",
        "sample_rate",
        "slow_ns",
    )

    def __init__(self) -> None:
        self.enabled = conf.enabled
        self.capture_request_body = conf.capture_request_body
        self.capture_response_body = conf.capture_response_body
        self.capture_headers = conf.capture_headers
        self.max_body_bytes = conf.max_body_bytes
        self.request_id_header = conf.request_id_header
        # The response header is written straight into the response's header
        # store when its name needs none of the checks and encoding Django's
        # ``response[name] = value`` does (the value is always a safe ID).
        token = _TOKEN.fullmatch(self.request_id_header) is not None
        self.request_id_header_key = self.request_id_header.lower() if token else None
        self.sample_rate = conf.sample_rate
        self.slow_ns = conf.slow_request_ms * 1_000_000


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP header name (RFC 9110 token)


_config: _Config | None = None


def _settings() -> _Config:
    global _config  # noqa: PLW0603 - a process-wide cache, dropped on setting_changed
    config = _config
    if config is None:
        config = _config = _Config()
    return config


def _drop_settings() -> None:
    global _config  # noqa: PLW0603
    _config = None


register_cache_clearer(_drop_settings)

# Event and request IDs: 128 random bits formatted like ``uuid.uuid4().hex``.
# ``os.urandom`` is a system call that releases the GIL, and getting the GIL
# back while a shipper thread is busy costs the request up to a switch
# interval (5 ms); drawing the randomness for 64 IDs at a time makes that
# one request in 64 instead of two calls in every request.
_ID_BATCH = 64
_ids: list[str] = []


# uuid4's fixed bits, set on the raw bytes of a whole batch at once: the high
# nibble of byte 6 is the version (4), the top two bits of byte 8 the RFC 4122
# variant (10).
_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))
_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))


def new_id() -> str:
    """A random ID, format-compatible with ``uuid.uuid4().hex``; thread-safe."""
    try:
        return _ids.pop()  # atomic: two threads never get the same ID
    except IndexError:
        pass
    raw = bytearray(os.urandom(16 * _ID_BATCH))
    raw[6::16] = raw[6::16].translate(_VERSION_4)
    raw[8::16] = raw[8::16].translate(_VARIANT)
    text = raw.hex()
    batch = [text[i : i + 32] for i in range(0, len(text), 32)]
    mine = batch.pop()
    _ids.extend(batch)
    return mine


# A forked child must never hand out IDs its parent already has.
os.register_at_fork(after_in_child=_ids.clear)


def remember_exception(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """``got_request_exception`` receiver: keep exc_info for the request's event.

    Django turns a view's exception into a 500 response inside the handler
    chain, so the middleware would otherwise never see it.
    """
    if request is not None:
        exc_info = sys.exc_info()
        if exc_info[0] is not None:
            setattr(request, _EXC_ATTR, exc_info)


class _State:
    """One request's capture, from _begin to the event; ``config`` is the
    settings snapshot the request started with."""

    __slots__ = ("config", "content_length", "request_id", "start_ns", "started_at", "tee", "token")

    def __init__(
        self,
        config: _Config,
        request_id: str,
        content_length: int | None,
        tee: TeeStream | None,
        token: Token[str | None],
    ) -> None:
        self.config = config
        self.request_id = request_id
        self.content_length = content_length
        self.tee = tee
        self.token = token
        self.started_at = time.time()
        self.start_ns = time.perf_counter_ns()


class RequestLogMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase]
        | Callable[[HttpRequest], Awaitable[HttpResponseBase]],
    ) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
        # Also connected by AppConfig.ready; the uid makes this idempotent.
        got_request_exception.connect(remember_exception, dispatch_uid="django_reqlog.exc")
        # Likewise for the settings snapshot, even without the app installed.
        setting_changed.connect(clear_caches, dispatch_uid="django_reqlog.clear_caches")

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        state = self._begin(request)
        if state is None:
            return self.get_response(request)
        try:
            response = self.get_response(request)
        except Exception:
            self._finish_raised(state, request)
            raise
        finally:
            _current.reset(state.token)
        _resolve_user(request)
        return self._finish(state, request, response)  # type: ignore[arg-type]

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        state = self._begin(request)
        if state is None:
            return await self.get_response(request)  # type: ignore[no-any-return,misc]
        try:
            response = await self.get_response(request)  # type: ignore[misc]
        except Exception:
            self._finish_raised(state, request)
            raise
        finally:
            _current.reset(state.token)
        if _user_unevaluated(request):
            # Evaluating a lazy user may query the database: not on the loop.
            await sync_to_async(_resolve_user)(request)
        return self._finish(state, request, response)

    # -- shared by both paths ------------------------------------------------

    def _begin(self, request: HttpRequest) -> _State | None:
        try:
            config = _settings()
            if not config.enabled:
                return None
            skip = derived.skip_path_re
            if skip is not None and skip.search(request.path_info):
                return None
            meta = request.META
            incoming = meta.get(derived.request_id_meta_key)
            request_id = new_id() if incoming is None else accept_or_generate(incoming)
            content_length = _int_or_none(meta.get("CONTENT_LENGTH"))
            tee = None
            if (
                config.capture_request_body
                and (content_length or _chunked(meta))
                and not getattr(request, "_read_started", False)
                and hasattr(request, "_stream")
            ):
                tee = TeeStream(request._stream, config.max_body_bytes)
                request._stream = tee  # type: ignore[assignment]
            return _State(config, request_id, content_length, tee, _current.set(request_id))
        except Exception as exc:
            warn(f"request capture disabled for one request: {exc!r}", key="begin")
            return None

    def _finish(
        self, state: _State, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        try:
            store = _header_store(response)
            _set_request_id(response, store, state)
            facts = self._facts(state, request, response.status_code)
            if facts is None:
                return response
            if response.streaming:
                self._defer_to_close(state, facts, response)
            else:
                self._response_body(state, facts, response, store)
                self._emit(state, facts, request)
        except Exception as exc:
            warn(f"request event lost: {exc!r}", key="finish")
        return response

    def _finish_raised(self, state: _State, request: HttpRequest) -> None:
        try:
            facts = self._facts(state, request, 500)
            if facts is not None:
                setattr(request, _EXC_ATTR, sys.exc_info())
                self._emit(state, facts, request)
        except Exception as exc:
            warn(f"request event lost: {exc!r}", key="finish")

    def _facts(self, state: _State, request: HttpRequest, status: int) -> RequestFacts | None:
        meta = request.META
        level = _level(status)
        if not logger.isEnabledFor(level):
            return None
        config = state.config
        # Positional, in field order: the dataclass's __init__ takes keyword
        # arguments about three times slower, and this runs for every request.
        facts = RequestFacts(
            new_id(),  # event_id
            state.request_id,
            state.started_at,
            str(request.method or ""),
            meta.get("wsgi.url_scheme", "http"),  # scheme
            str(meta.get("HTTP_HOST") or meta.get("SERVER_NAME", "")),  # host
            request.path,
            meta.get("QUERY_STRING", ""),
            meta.get("SERVER_PROTOCOL", ""),  # http_version
            meta.get("REMOTE_ADDR", "") or "",
            meta.get("HTTP_X_FORWARDED_FOR", ""),
            meta.get("HTTP_USER_AGENT", ""),
            meta.get("HTTP_REFERER", ""),
            meta.get("CONTENT_TYPE", ""),
            state.content_length,
            meta.get("HTTP_CONTENT_ENCODING", ""),
            trace_id_from_traceparent(meta.get("HTTP_TRACEPARENT")),
            status,
            config.max_body_bytes,
        )
        if config.capture_headers:
            facts.headers = _raw_headers(meta)
        if config.capture_request_body:
            _request_body(facts, request, state.tee)
        sensitive = getattr(request, "sensitive_post_parameters", None)
        if sensitive:
            facts.sensitive_post = frozenset(
                ["__ALL__"] if sensitive == "__ALL__" else [str(s) for s in sensitive]
            )
        match = getattr(request, "resolver_match", None)
        if match is not None:
            facts.route = str(match.route) if match.route else None
            facts.view = match.view_name or None
        user = getattr(request, "user", None)
        if isinstance(user, SimpleLazyObject):
            # Read the user's attributes on the real object: every attribute
            # read through the lazy proxy costs a failed lookup and a
            # re-dispatch, about a fifth of the middleware's own time.
            wrapped = object.__getattribute__(user, "__dict__").get("_wrapped", empty)
            user = None if wrapped is empty else wrapped
        if user is not None:
            facts.user_id, facts.username = _identity(user)
        return facts

    def _response_body(
        self,
        state: _State,
        facts: RequestFacts,
        response: HttpResponseBase,
        store: dict[str, tuple[str, str]] | None,
    ) -> None:
        if store is not None:
            facts.response_content_type = store.get("content-type", ("", ""))[1] or ""
        else:
            facts.response_content_type = response.get("Content-Type", "") or ""
        chunks = getattr(response, "_container", None)
        if not isinstance(chunks, list):
            chunks = [getattr(response, "content", b"")]
        facts.response_bytes = sum(map(len, chunks))
        config = state.config
        if config.capture_response_body and is_textual(facts.response_content_type):
            limit = config.max_body_bytes
            prefix = bytearray()
            for chunk in chunks:
                prefix += chunk[: limit - len(prefix)]
                if len(prefix) >= limit:
                    break
            facts.response_body_prefix = bytes(prefix)

    def _defer_to_close(
        self, state: _State, facts: RequestFacts, response: HttpResponseBase
    ) -> None:
        """Streams are never consumed or buffered: count as chunks pass, emit on close."""
        facts.response_content_type = response.get("Content-Type", "") or ""
        config = state.config
        capture_body = config.capture_response_body and is_textual(facts.response_content_type)
        counter: CountingIterator | None = CountingIterator(
            config.max_body_bytes if capture_body else 0
        )
        if getattr(response, "file_to_stream", None) is not None:
            # Wrapping would defeat the server's sendfile path; trust the length.
            counter = None
            facts.response_bytes = _int_or_none(response.get("Content-Length"))
        elif getattr(response, "is_async", False):
            assert counter is not None
            response.streaming_content = counter.awrap(response.streaming_content)  # type: ignore[attr-defined]
        else:
            assert counter is not None
            response.streaming_content = counter.wrap(response.streaming_content)  # type: ignore[attr-defined]

        def on_close() -> None:
            try:
                if counter is not None:
                    facts.response_bytes = counter.count
                    if capture_body:
                        facts.response_body_prefix = bytes(counter.prefix)
                        facts.response_truncated = counter.count > len(counter.prefix)
                self._emit(state, facts, None)
            except Exception as exc:
                warn(f"request event lost: {exc!r}", key="finish")

        response._resource_closers.append(once(on_close))  # type: ignore[attr-defined]

    def _emit(self, state: _State, facts: RequestFacts, request: HttpRequest | None) -> None:
        duration_ns = time.perf_counter_ns() - state.start_ns
        facts.duration_ns = duration_ns
        config = state.config
        facts.slow = duration_ns >= config.slow_ns
        status = facts.status
        rate = config.sample_rate
        if rate < 1.0 and status < 400 and not facts.slow and random.random() >= rate:
            return
        exc_info = None
        if request is not None:
            exc_info = request.__dict__.pop(_EXC_ATTR, None)
        level = _level(status)
        sinks = None if exc_info is not None else _direct_sinks(level)
        if sinks is not None:
            event = request_event(_SITE, origin(level), facts)
            for sink in sinks:
                sink.queue_request_event(event)
            return
        record = make_record(
            logger,
            level,
            EventMessage(facts),
            exc_info,
            record_extra(facts),
            pathname=_SITE[1],
            lineno=_SITE[2],
        )
        logger.handle(record)


# Where request records say they were made: the logger, this file, _emit.
_SITE: Site = (
    logger.name,
    RequestLogMiddleware._emit.__code__.co_filename,
    RequestLogMiddleware._emit.__code__.co_firstlineno,
)


def _direct_sinks(level: int) -> list[Any] | None:
    """The handlers that would emit a request record at ``level``, when all
    of them are django-reqlog shippers that would only queue it.

    Then the record itself is not needed on the request thread: the event is
    handed to them as it is, and the record is made on their worker, equal to
    the one ``Logger.handle`` would have passed them. That saves most of what
    logging costs a request. None when anything could see or change the
    record first (a filter, a record factory, any other handler, or no
    handler at all, where logging falls back to ``lastResort``).
    """
    if logger.disabled or logger.filters or logging.getLogRecordFactory() is not logging.LogRecord:
        return None
    sinks = []
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if handler.filters or not getattr(handler, "direct_request_events", False):
                return None
            if level >= handler.level:
                sinks.append(handler)
        if not current.propagate:
            break
        current = current.parent
    return sinks or None


def _header_store(response: HttpResponseBase) -> dict[str, tuple[str, str]] | None:
    """The dict behind Django's ``ResponseHeaders`` (lower-case name to
    ``(name, value)``), if this Django keeps one; reading and writing it
    directly skips several Python calls per header."""
    headers = getattr(response, "headers", None)
    if type(headers) is not ResponseHeaders:
        return None
    store = getattr(headers, "_store", None)
    return store if type(store) is dict else None


def _set_request_id(
    response: HttpResponseBase, store: dict[str, tuple[str, str]] | None, state: _State
) -> None:
    """Answer with the request ID unless the view set the header itself."""
    config = state.config
    request_id = state.request_id
    key = config.request_id_header_key
    if store is not None and key is not None:
        if key not in store:
            # Equal to ``response[name] = request_id``: the name is a token
            # and the ID is validated or generated, so neither needs encoding.
            store[key] = (config.request_id_header, request_id)
    elif config.request_id_header not in response:
        response[config.request_id_header] = request_id


def _level(status: int) -> int:
    if status >= 500:
        return logging.ERROR
    if status >= 400:
        return logging.WARNING
    return logging.INFO


def _int_or_none(value: object) -> int | None:
    if value is None:
        return None
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _chunked(meta: dict[str, Any]) -> bool:
    return "chunked" in str(meta.get("HTTP_TRANSFER_ENCODING", "")).lower()


def _request_body(facts: RequestFacts, request: HttpRequest, tee: TeeStream | None) -> None:
    body = request.__dict__.get("_body")
    if tee is not None:
        if body is None:
            tee.fill_prefix(facts.content_length)
        facts.body_prefix = bytes(tee.prefix)
        facts.body_bytes = facts.content_length if facts.content_length is not None else tee.seen
    elif isinstance(body, bytes):
        # Read before we ran (an outer middleware called request.body).
        facts.body_prefix = body[: facts.max_body_bytes]
        facts.body_bytes = len(body)
    elif facts.content_length:
        facts.body_bytes = facts.content_length


_HEADER_NAMES = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}


def _raw_headers(meta: dict[str, Any]) -> list[tuple[str, str]]:
    headers = []
    for key, value in meta.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
        elif key in _HEADER_NAMES:
            name = _HEADER_NAMES[key]
        else:
            continue
        headers.append((name, str(value)))
    return headers


def _pending_lazy_user(request: HttpRequest) -> Any:
    """``request.user`` when it is a lazy user still to be loaded, and loading
    it could find more than AnonymousUser; else None."""
    user = getattr(request, "user", None)
    if not isinstance(user, SimpleLazyObject):
        return None
    # The lazy object's own attributes, read past its __getattribute__ (a
    # Python-level hook that every attribute read through the proxy pays).
    lazy: dict[str, Any] = object.__getattribute__(user, "__dict__")
    if lazy.get("_wrapped") is not empty or _certainly_anonymous(request, lazy):
        return None
    return user


def _user_unevaluated(request: HttpRequest) -> bool:
    return _pending_lazy_user(request) is not None


# The lambda Django's AuthenticationMiddleware wraps ``get_user`` in (4.2-5.x).
_DJANGO_LAZY_USER = ("django.contrib.auth.middleware", "process_request.<locals>.<lambda>")


def _certainly_anonymous(request: HttpRequest, lazy: dict[str, Any]) -> bool:
    """True when loading Django's lazy user could only give AnonymousUser: it
    comes from AuthenticationMiddleware and the session has no key (no cookie)
    and no login in it. Most anonymous traffic then costs no session load."""
    try:
        setup = lazy.get("_setupfunc")
        module = getattr(setup, "__module__", None)
        qualname = getattr(setup, "__qualname__", "")
        if module != _DJANGO_LAZY_USER[0] or not qualname.endswith(_DJANGO_LAZY_USER[1]):
            return False
        session = request.session
        if session.session_key is not None:
            return False
        cache = getattr(session, "_session_cache", None)
        return cache is None or _SESSION_KEY not in cache
    except Exception:
        return False


def _resolve_user(request: HttpRequest) -> None:
    """Evaluate a lazy ``request.user`` so the event can name the user."""
    user = _pending_lazy_user(request)
    if user is not None:
        # Loading the user reads the session, and SessionMiddleware answers a
        # read session with "Vary: Cookie". Our read must not change the
        # response, so the session's "accessed" flag is put back.
        session = getattr(request, "session", None)
        accessed = getattr(session, "accessed", None)
        try:
            bool(user.is_authenticated)
        except Exception as exc:  # a broken session backend is not our failure to raise
            warn(f"could not resolve request.user: {exc!r}", key="user")
        finally:
            if accessed is not None:
                session.accessed = accessed  # type: ignore[union-attr]


def _identity(user: Any) -> tuple[str | None, str | None]:
    try:
        if not user.is_authenticated:
            return None, None
        name = user.get_username() if hasattr(user, "get_username") else str(user)
        return (str(user.pk) if getattr(user, "pk", None) is not None else None), str(name)
    except Exception:
        return None, None
