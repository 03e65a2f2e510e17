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
from contextlib import ExitStack
from contextvars import ContextVar, Token
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.core.signals import got_request_exception, setting_changed
from django.http import HttpRequest
from django.http.request import RawPostDataException
from django.http.response import HttpResponseBase

from django_reqlog import compat, query_stats
from django_reqlog._stderr import warn
from django_reqlog.capture import CountingIterator, MultipartCounter, TeeStream, once
from django_reqlog.conf import clear_caches, conf, derived
from django_reqlog.context import RequestContext, _current
from django_reqlog.filters import active_span_ids
from django_reqlog.labels import BoundLabels, _bound
from django_reqlog.query_stats import QueryStats
from django_reqlog.request_facts import RequestFacts, record_extra
from django_reqlog.request_fields import EventMessage, is_textual
from django_reqlog.request_id import accept_or_generate, request_context
from django_reqlog.view_options import ViewOptions, options_for

logger = logging.getLogger("django_reqlog")

_EXC_ATTR = "_reqlog_exc_info"


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


class _SignalUser:
    """The user a login or logout during this request named (see
    ``remember_auth_user``); shared by every copy of the request's context."""

    __slots__ = ("user",)

    def __init__(self) -> None:
        self.user: Any = None


# A mutable holder, not the user itself: a sync view runs in a copy of the
# request's context under ASGI, and a value set there would not come back.
_signal_user: ContextVar[_SignalUser | None] = ContextVar("django_reqlog_signal_user", default=None)


def remember_auth_user(sender: Any, user: Any = None, **kwargs: Any) -> None:
    """``user_logged_in`` / ``user_logged_out`` receiver: the user who logged in
    or out names the request, even when ``request.user`` is anonymous by the
    time the response exists (a logout) or was put back by the view (login
    flows that restore the previous user)."""
    slot = _signal_user.get()
    if slot is not None and user is not None:
        slot.user = user


class _Settings:
    """The settings one request's capture reads, each read once through
    ``conf`` when the request starts; a streamed response's event, emitted
    later, uses the same."""

    __slots__ = (
        "capture_db",
        "capture_headers",
        "capture_request_body",
        "capture_response_body",
        "max_body_bytes",
        "request_id_header",
        "sample_rate",
        "slow_ns",
    )

    def __init__(self) -> None:
        self.capture_db = conf.capture_db
        self.capture_headers = conf.capture_headers
        self.capture_request_body = conf.capture_request_body
        self.capture_response_body = conf.capture_response_body
        self.max_body_bytes = conf.max_body_bytes
        self.request_id_header = conf.request_id_header
        self.sample_rate = conf.sample_rate
        self.slow_ns = conf.slow_request_ms * 1_000_000


class _State:
    """One request's capture, from _begin to the event."""

    __slots__ = (
        "active_token",
        "content_length",
        "context",
        "labels",
        "labels_token",
        "queries",
        "queries_token",
        "request",
        "request_id",
        "settings",
        "signal",
        "signal_token",
        "span_seen",
        "start_ns",
        "started_at",
        "tee",
        "token",
        "view",
    )

    def __init__(
        self,
        request: HttpRequest,
        settings: _Settings,
        context: RequestContext,
        content_length: int | None,
        tee: TeeStream | None,
    ) -> None:
        self.request = request
        self.settings = settings
        self.context = context
        self.request_id = context.request_id
        self.content_length = content_length
        self.tee = tee
        self.view: ViewOptions | None = None  # the resolved view's @options or @skip
        self.span_seen = False  # an OpenTelemetry span gave the IDs
        # What get_request_id(), RequestContextFilter and the Celery headers read.
        self.token: Token[RequestContext | None] = _current.set(context)
        self.signal = _SignalUser()
        self.signal_token = _signal_user.set(self.signal)
        self.labels = BoundLabels()  # what django_reqlog.bind() adds
        self.labels_token = _bound.set(self.labels)
        self.active_token = _active.set(self)  # for process_view
        self.queries: QueryStats | None = None
        if settings.capture_db:
            self.queries = QueryStats(conf.capture_db_sql)
            self.queries_token = query_stats.start(self.queries)
        self.started_at = time.time()
        self.start_ns = time.perf_counter_ns()

    def reset(self) -> None:
        _current.reset(self.token)
        _signal_user.reset(self.signal_token)
        _bound.reset(self.labels_token)
        _active.reset(self.active_token)
        if self.queries is not None:
            query_stats.stop(self.queries_token)

    @property
    def skipped(self) -> bool:
        return self.view is not None and self.view.skip


# The request being handled in this context, for process_view (which Django
# calls with the request only).
_active: ContextVar[_State | None] = ContextVar("django_reqlog_state", default=None)


class RequestLogMiddleware:
    """Put it first in ``MIDDLEWARE``: from there it sees the response the
    client gets (redirects and rejections by other middleware included), the
    whole stack's duration, and every byte of the body whoever reads it."""

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
            # Django awaits an async handler's process_view as it is; a sync
            # one it would run in a thread for every request.
            self.process_view = self._aprocess_view  # type: ignore[method-assign,assignment]
        # Also connected by AppConfig.ready; the uid makes this idempotent.
        got_request_exception.connect(remember_exception, dispatch_uid="django_reqlog.exc")
        user_logged_in.connect(remember_auth_user, dispatch_uid="django_reqlog.login")
        user_logged_out.connect(remember_auth_user, dispatch_uid="django_reqlog.logout")
        # Likewise for the settings caches, even without the app installed.
        setting_changed.connect(clear_caches, dispatch_uid="django_reqlog.clear_caches")

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        state = self._begin(request)
        if state is None:
            return self.get_response(request)
        wrappers = _put_wrappers(state.queries) if state.queries is not None else None
        try:
            response = self.get_response(request)
        except Exception:
            self._finish_raised(state, request)
            raise
        finally:
            if wrappers is not None:
                _take_wrappers(wrappers)
            state.reset()
        return self._finish(state, request, response)  # type: ignore[arg-type]

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        state = self._begin(request)
        if state is None:
            return await self.get_response(request)  # type: ignore[no-any-return,misc]
        wrappers = None
        try:
            if state.queries is not None:
                # On the thread Django runs this request's sync code in.
                wrappers = await sync_to_async(_put_wrappers)(state.queries)
            response = await self.get_response(request)  # type: ignore[misc]
        except Exception:
            self._finish_raised(state, request)
            raise
        finally:
            if wrappers is not None:
                await sync_to_async(_take_wrappers)(wrappers)
            state.reset()
        return self._finish(state, request, response)

    # -- the resolved view ---------------------------------------------------

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> None:
        """Django has resolved the view and is about to call it: read its
        ``@skip`` / ``@options`` and the OpenTelemetry span, if either is
        there, before the view (or a middleware's process_view, such as
        CSRF's) reads the body. Returns None: the view always runs."""
        _on_view(request, view_func)

    async def _aprocess_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> None:
        _on_view(request, view_func)

    # -- shared by both paths ------------------------------------------------

    def _begin(self, request: HttpRequest) -> _State | None:
        try:
            if not conf.enabled:
                return None
            skip = derived.skip_path_re
            if skip is not None and skip.search(request.path_info):
                return None
            settings = _Settings()
            meta = request.META
            incoming = meta.get(derived.request_id_meta_key)
            request_id = new_id() if incoming is None else accept_or_generate(incoming)
            content_length = _int_or_none(meta.get("CONTENT_LENGTH"))
            tee = _install_tee(request, meta, content_length, settings)
            context = request_context(request_id, meta.get("HTTP_TRACEPARENT"), new_id()[:16])
            span = active_span_ids()  # OpenTelemetry's middleware runs before this one
            if span is not None:
                context = _with_span(context, span)
            state = _State(request, settings, context, content_length, tee)
            state.span_seen = span is not None
            return state
        except Exception as exc:
            warn(f"request capture disabled for one request: {exc!r}", key="begin")
            return None

    def _finish(
        self, state: _State, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if state.skipped:
            return response  # @skip: left as the application made it
        try:
            # Answer with the request ID, unless the view set the header itself.
            response.setdefault(state.settings.request_id_header, state.request_id)
            facts = self._facts(state, request, response.status_code)
            if facts is None:
                return response
            if response.streaming:
                self._defer_to_close(state, facts, response)
            else:
                _response_body(facts, response, state.settings)
                self._emit(state, facts, request)
        except Exception as exc:
            warn(f"request event lost: {exc!r}", key="finish")
        return response

    def _finish_raised(self, state: _State, request: HttpRequest) -> None:
        if state.skipped:
            return
        try:
            facts = self._facts(state, request, 500)
            if facts is not None:
                setattr(request, _EXC_ATTR, sys.exc_info())
                self._emit(state, facts, request)
        except Exception as exc:
            warn(f"request event lost: {exc!r}", key="finish")

    def _facts(self, state: _State, request: HttpRequest, status: int) -> RequestFacts | None:
        if not logger.isEnabledFor(_level(status)):
            return None
        meta = request.META
        scope = getattr(request, "scope", None)  # ASGI requests only
        settings = state.settings
        context = state.context
        facts = RequestFacts(
            event_id=new_id(),
            request_id=state.request_id,
            started_at=state.started_at,
            method=str(request.method or ""),
            scheme=meta.get("wsgi.url_scheme") or _scope_value(scope, "scheme") or "http",
            # The raw header, never request.get_host(): that raises on a
            # host outside ALLOWED_HOSTS, and such requests deserve an event.
            host=str(meta.get("HTTP_HOST") or meta.get("SERVER_NAME", "")),
            path=request.path,
            query_string=meta.get("QUERY_STRING", ""),
            http_version=meta.get("SERVER_PROTOCOL") or _asgi_http_version(scope),
            remote_addr=meta.get("REMOTE_ADDR", "") or "",
            remote_port=str(meta.get("REMOTE_PORT") or ""),
            forwarded_for=meta.get("HTTP_X_FORWARDED_FOR", ""),
            user_agent=meta.get("HTTP_USER_AGENT", ""),
            referer=meta.get("HTTP_REFERER", ""),
            content_type=meta.get("CONTENT_TYPE", ""),
            content_length=state.content_length,
            content_encoding=meta.get("HTTP_CONTENT_ENCODING", ""),
            trace_id=context.trace_id,
            parent_span_id=context.parent_span_id,
            span_id=context.span_id,
            status=status,
            max_body_bytes=settings.max_body_bytes,
        )
        if settings.capture_headers:
            facts.headers = _raw_headers(meta)
        _request_body(facts, request, state.tee, settings.capture_request_body)
        sensitive = getattr(request, "sensitive_post_parameters", None)
        if sensitive:
            facts.sensitive_post = frozenset(
                ["__ALL__"] if sensitive == "__ALL__" else [str(s) for s in sensitive]
            )
        _route(facts, getattr(request, "resolver_match", None))
        facts.user_id, facts.username = _user(request, state.signal)
        _extras(facts, state)
        return facts

    def _defer_to_close(
        self, state: _State, facts: RequestFacts, response: HttpResponseBase
    ) -> None:
        """Streams are never consumed or buffered: count as chunks pass, emit on close."""
        facts.response_content_type = response.get("Content-Type", "") or ""
        capture_body = state.settings.capture_response_body and is_textual(
            facts.response_content_type
        )
        counter: CountingIterator | None = CountingIterator(
            facts.max_body_bytes if capture_body else 0
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
                    facts.response_aborted = not counter.finished
                    if capture_body:
                        facts.response_body_prefix = bytes(counter.prefix)
                        facts.response_truncated = counter.count > len(counter.prefix)
                self._emit(state, facts, None)
            except Exception as exc:
                warn(f"request event lost: {exc!r}", key="finish")

        if not compat.on_close(response, once(on_close)):
            counter = None  # no close hook in this Django: the event goes now, sizes unknown
            on_close()

    def _emit(self, state: _State, facts: RequestFacts, request: HttpRequest | None) -> None:
        duration_ns = time.perf_counter_ns() - state.start_ns
        facts.duration_ns = duration_ns
        facts.slow = duration_ns >= state.settings.slow_ns
        rate = state.settings.sample_rate
        if rate < 1.0 and facts.status < 400 and not facts.slow:
            if random.random() >= rate:
                return
            facts.sample_rate = rate  # kept with this probability: weight 1/rate
        exc_info = None
        if request is not None:
            exc_info = request.__dict__.pop(_EXC_ATTR, None)
        level = _level(facts.status)
        if logger.isEnabledFor(level):  # a stream's event: the level may have changed since
            record = logger.makeRecord(
                logger.name,
                level,
                __file__,
                _EMIT_LINE,
                EventMessage(facts),
                (),
                exc_info,
                "_emit",
                record_extra(facts),
            )
            logger.handle(record)  # filters, handlers and propagation, as for any record


# Request records say they were made in _emit, in this file: what Logger.log
# would find by walking the stack on every call, for a call site that never
# moves.
_EMIT_LINE = RequestLogMiddleware._emit.__code__.co_firstlineno


def _put_wrappers(stats: QueryStats) -> ExitStack | None:
    try:
        return query_stats.install(stats)
    except Exception as exc:  # the request goes on uncounted
        warn(f"database queries not counted for one request: {exc!r}", key="db")
        return None


def _take_wrappers(wrappers: ExitStack | None) -> None:
    if wrappers is None:
        return
    try:
        wrappers.close()
    except Exception as exc:
        warn(f"could not remove the query counter: {exc!r}", key="db")


def _with_span(context: RequestContext, span: tuple[str, str]) -> RequestContext:
    """The request's context with an OpenTelemetry span's trace and span IDs.
    The ``traceparent``'s parent is kept when the span belongs to its trace
    (OpenTelemetry read the same header), and dropped otherwise."""
    trace_id, span_id = span
    parent = context.parent_span_id if context.trace_id == trace_id else None
    return context._replace(trace_id=trace_id, span_id=span_id, parent_span_id=parent)


def _on_view(request: HttpRequest, view_func: Any) -> None:
    try:
        state = _active.get()
        if state is not None and state.request is request:
            _view_resolved(state, request, view_func)
    except Exception as exc:
        warn(f"view options ignored for one request: {exc!r}", key="process_view")


def _view_resolved(state: _State, request: HttpRequest, view_func: Any) -> None:
    if not state.span_seen:
        # OpenTelemetry's middleware runs after this one: its span is active
        # from its own request step to its response step, so here.
        span = active_span_ids()
        if span is not None:
            state.context = _with_span(state.context, span)
            state.span_seen = True
            _current.set(state.context)  # reset with the rest by state.reset()
    chosen = options_for(view_func, str(request.method or ""))
    if chosen is None:
        return
    state.view = chosen
    settings = state.settings
    if chosen.skip:
        if state.tee is not None:
            state.tee.stop_keeping()
        return
    if chosen.sample_rate is not None:
        settings.sample_rate = chosen.sample_rate
    if chosen.capture_response_body is not None:
        settings.capture_response_body = chosen.capture_response_body
    if chosen.capture_request_body is not None:
        _choose_body_capture(state, request, chosen.capture_request_body)


def _choose_body_capture(state: _State, request: HttpRequest, capture: bool) -> None:
    """The view's body capture, settled before the view reads the body."""
    settings = state.settings
    if capture == settings.capture_request_body:
        return
    tee = state.tee
    if not capture:
        settings.capture_request_body = False
        if tee is not None:
            tee.stop_keeping()  # counting goes on for the body's size
        return
    if tee is None:
        settings.capture_request_body = True
        state.tee = _install_tee(request, request.META, state.content_length, settings)
    elif tee.seen == 0:  # counting only so far, and nothing has passed yet
        settings.capture_request_body = True
        tee.limit = settings.max_body_bytes
        tee.parts = _multipart_counter(str(request.META.get("CONTENT_TYPE", "")))
    # Otherwise the body began to pass uncaptured: it stays uncaptured.


def _extras(facts: RequestFacts, state: _State) -> None:
    """What the application bound, the view's own key names, the queries."""
    labels = state.labels
    if labels.values or labels.dropped:
        facts.labels = labels.snapshot() or None
        facts.labels_dropped = labels.dropped
    view = state.view
    if view is not None and view.sensitive_fields:
        facts.view_sensitive_fields = view.sensitive_fields
    queries = state.queries
    if queries is not None:
        facts.db_queries = queries.count
        facts.db_duration_ns = queries.total_ns
        facts.db_slowest_ns = queries.slowest_ns if queries.count else None
        facts.db_slowest_sql = queries.slowest_sql


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


def _scope_value(scope: object, key: str) -> Any:
    return scope.get(key) if isinstance(scope, dict) else None


def _asgi_http_version(scope: object) -> str:
    """``HTTP/<version>`` from an ASGI scope (WSGI has SERVER_PROTOCOL instead)."""
    version = _scope_value(scope, "http_version")
    return f"HTTP/{version}" if isinstance(version, str) and version else ""


_BOUNDARY = re.compile(r'boundary="?([^";]{1,200})"?', re.I)


def _install_tee(
    request: HttpRequest, meta: dict[str, Any], content_length: int | None, settings: _Settings
) -> TeeStream | None:
    """Put the tee in front of the request stream, before anyone reads it.

    Without body capture it only counts, and only when no Content-Length
    gives the size already.
    """
    capture = settings.capture_request_body
    if not (content_length or _chunked(meta)) or (not capture and content_length is not None):
        return None
    stream = compat.request_stream(request)
    if stream is None or compat.read_started(request):
        return None
    parts = _multipart_counter(str(meta.get("CONTENT_TYPE", ""))) if capture else None
    tee = TeeStream(stream, settings.max_body_bytes if capture else 0, parts)
    compat.set_request_stream(request, tee)
    return tee


def _multipart_counter(content_type: str) -> MultipartCounter | None:
    if content_type[:19].lower() != "multipart/form-data":
        return None
    boundary = _BOUNDARY.search(content_type)
    if boundary is None:
        return None
    return MultipartCounter(boundary.group(1).encode("latin-1", "replace"))


def _request_body(
    facts: RequestFacts, request: HttpRequest, tee: TeeStream | None, capture: bool
) -> None:
    length = facts.content_length
    body = _body_if_read(request)
    if tee is not None:
        facts.body_unread = False if body is not None else tee.unread(length)
    elif body is not None:
        facts.body_unread = False
    if not capture:
        facts.body_omitted = True
        facts.body_bytes = length if length is not None or tee is None else tee.seen
        return
    if tee is not None:
        if body is None:
            tee.fill_prefix(length)
        facts.body_prefix = bytes(tee.prefix)
        facts.body_bytes = length if length is not None else tee.seen
        if tee.parts is not None:
            facts.body_parts = tee.parts.snapshot()
    elif body is not None:
        # Read before we ran (a middleware above this one called request.body).
        facts.body_prefix = body[: facts.max_body_bytes]
        facts.body_bytes = len(body)
    elif length:
        facts.body_bytes = length


def _body_if_read(request: HttpRequest) -> bytes | None:
    """The body, if ``request.body`` was already read; never reads it.

    Once the stream was read, ``request.body`` returns the bytes it kept or
    raises, without touching the stream. Before that it would read the body
    on the application's behalf, so it is not asked.
    """
    if not compat.read_started(request):
        return None
    try:
        return request.body
    except RawPostDataException:  # read as a stream (request.POST, request.read())
        return None


def _response_body(facts: RequestFacts, response: HttpResponseBase, settings: _Settings) -> None:
    facts.response_content_type = response.get("Content-Type", "") or ""
    # One chunk (the usual case) is returned as it is, without a copy.
    content = getattr(response, "content", b"")
    facts.response_bytes = len(content)
    if settings.capture_response_body and is_textual(facts.response_content_type):
        facts.response_body_prefix = bytes(content[: settings.max_body_bytes])


def _route(facts: RequestFacts, match: Any) -> None:
    """The matched route and view, and the route parameters as the URL wrote
    them (for masking secrets the route captured from the path)."""
    if match is None:
        return
    facts.route = str(match.route) if match.route else None
    facts.view = match.view_name or None
    captured = getattr(match, "captured_kwargs", None)
    if captured:
        facts.route_kwargs = tuple(
            (str(name), value if type(value) is str else str(value))
            for name, value in captured.items()
        )


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


def _user(request: HttpRequest, signal: _SignalUser) -> tuple[str | None, str | None]:
    """The user the application itself resolved: ``request.user`` if it is a
    loaded user (DRF puts the user it authenticated there too), else the one
    a login or logout during the request named. Never loads a lazy user: that
    would query the session and the database on the application's behalf."""
    user_id, username = _identity(compat.evaluated(getattr(request, "user", None)))
    if user_id is None and username is None and signal.user is not None:
        return _identity(signal.user)
    return user_id, username


def _identity(user: Any) -> tuple[str | None, str | None]:
    if user is None:
        return None, None
    try:
        if not user.is_authenticated:
            return None, None
        name = user.get_username() if hasattr(user, "get_username") else str(user)
        return (str(user.pk) if getattr(user, "pk", None) is not None else None), str(name)
    except Exception:
        return None, None
