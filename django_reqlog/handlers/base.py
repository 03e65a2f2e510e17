"""The handler half that runs on the application's threads.

``emit()`` copies the record's attributes (one dict copy), maybe makes a
uuid4, and does a non-blocking ``put_nowait`` on a bounded queue. Everything
else belongs to the worker, which starts with the first event, in the process
that logged it: a handler that ``dictConfig`` built in a process that never
logs through it starts no thread and creates no file, and a forked child
starts its own.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import queue
import re
import tempfile
import threading
import time
import uuid
import weakref
from typing import Any

from django_reqlog._stderr import warn
from django_reqlog.request_id import get_request_id

from .bounded_queue import BoundedQueue
from .metrics import ShipperMetrics
from .queue_worker import WAKE, FlushRequest, Worker, WorkerOptions
from .spool import SpoolStore
from .spool_file import _inherited
from .transport import Transport

MiB = 1024 * 1024

# Every live shipper handler, for ``reqlog_status`` and ``shipper_handlers()``.
_live: weakref.WeakSet[ShipperHandler] = weakref.WeakSet()


def shipper_handlers() -> list[ShipperHandler]:
    """The shipper handlers alive in this process, oldest first."""
    return sorted(_live, key=lambda h: h._serial)


def default_spool_root() -> str:
    """``<tmp>/django-reqlog-<uid>``: per user, so another account cannot plant files."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return os.path.join(tempfile.gettempdir(), f"django-reqlog-{uid}")


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _check_float(
    name: str, value: object, *, positive: bool = True, optional: bool = False
) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    if positive and not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return float(value)


def check_float(name: str, value: object) -> float:
    result = _check_float(name, value)
    assert result is not None
    return result


def check_str(name: str, value: object, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    return value


def check_str_pair(value: object, message: str) -> tuple[str, str]:
    """Two strings as a tuple or list (credentials), or TypeError(message)."""
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not all(isinstance(part, str) for part in value)
    ):
        raise TypeError(message)
    return (value[0], value[1])


def check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
    return value


# How long close() waits for the worker beyond close_timeout: an aborted send
# returning, the last spool writes, the status file.
_CLOSE_GRACE = 5.0


class ShipperHandler(logging.Handler):
    """Base class: bounded queue, worker thread, spool, metrics, fork handling.

    Subclasses provide ``_make_transport()``, ``_default_formatter()``,
    ``target`` (shown in messages) and ``spool_key`` (the spool directory name).
    """

    _counter = 0
    target = ""
    spool_key = "shipper"

    def __init__(
        self,
        *,
        level: int | str = logging.NOTSET,
        queue_size: int = 10_000,
        batch_size: int = 500,
        batch_max_bytes: int = 5 * MiB,
        flush_interval: float = 1.0,
        spool: bool = True,
        spool_dir: str | None = None,
        spool_max_bytes: int = 256 * MiB,
        spool_max_age: float | None = None,
        memory_buffer_bytes: int = 8 * MiB,
        spool_retry_interval: float = 10.0,
        retry_initial: float = 1.0,
        retry_max: float = 60.0,
        timeout: float = 10.0,
        close_timeout: float = 5.0,
        metrics_interval: float | None = 60.0,
    ) -> None:
        super().__init__(level)
        self.queue_size = _check_int("queue_size", queue_size, 1)
        self.spool_enabled = check_bool("spool", spool)
        self.spool_dir = check_str("spool_dir", spool_dir, optional=True) or os.path.join(
            default_spool_root(), re.sub(r"[^A-Za-z0-9._-]+", "_", self.spool_key)
        )
        self.spool_max_bytes = _check_int("spool_max_bytes", spool_max_bytes, 1)
        self.spool_max_age = _check_float("spool_max_age", spool_max_age, optional=True)
        self.memory_buffer_bytes = _check_int("memory_buffer_bytes", memory_buffer_bytes, 0)
        self.spool_retry_interval = check_float("spool_retry_interval", spool_retry_interval)
        self.options = WorkerOptions(
            batch_size=_check_int("batch_size", batch_size, 1),
            batch_max_bytes=_check_int("batch_max_bytes", batch_max_bytes, 1),
            flush_interval=check_float("flush_interval", flush_interval),
            retry_initial=check_float("retry_initial", retry_initial),
            retry_max=check_float("retry_max", retry_max),
            timeout=check_float("timeout", timeout),
            close_timeout=check_float("close_timeout", close_timeout),
            metrics_interval=_check_float("metrics_interval", metrics_interval, optional=True),
        )
        if self.options.retry_max < self.options.retry_initial:
            raise ValueError("retry_max must be >= retry_initial")
        if self.formatter is None:
            self.setFormatter(self._default_formatter())
        ShipperHandler._counter += 1
        self._serial = ShipperHandler._counter
        self._closed = False
        self._start_lock = threading.Lock()
        self._init_state()
        _live.add(self)

    def _init_state(self) -> None:
        """What a worker owns; made again in a forked child (the parent's stays the parent's)."""
        self.metrics = ShipperMetrics()
        self._queue = BoundedQueue(self.queue_size)
        self._store: SpoolStore | None = None
        self._worker: Worker | None = None
        # The pid whose worker runs (None before the first event), and the
        # threads whose own records are never shipped.
        self._pid: int | None = None
        self._own_threads: tuple[int | None, ...] = ()

    def set_name(self, name: str) -> None:
        # dictConfig names a handler after constructing it; keep the worker's
        # label (used in the status file) in step.
        super().set_name(name)
        if self._worker is not None:
            self._worker.name = name

    # -- subclass hooks ------------------------------------------------------

    def _make_transport(self) -> Transport:
        raise NotImplementedError

    def _default_formatter(self) -> logging.Formatter:
        raise NotImplementedError

    # -- lifecycle -----------------------------------------------------------

    def _start(self) -> bool:
        """Start the worker in this process, unless it runs already; False once closed."""
        with self._start_lock:
            if self._closed:
                return False
            pid = os.getpid()
            if self._pid == pid:
                return True
            if self._pid is not None:
                # A forked child: the parent's thread does not exist here, and
                # its queue, sockets and spool file belong to the parent. Keep
                # them referenced (closing them could flush or unlink the
                # parent's state) and start afresh.
                _inherited.append(self._worker)
                if self._store is not None:
                    self._store.forget_after_fork()
                self._init_state()
            self._store = SpoolStore(
                self.spool_dir if self.spool_enabled else None,
                self.metrics,
                max_bytes=self.spool_max_bytes,
                max_age=self.spool_max_age,
                memory_bytes=self.memory_buffer_bytes,
                retry_interval=self.spool_retry_interval,
            )
            worker = Worker(
                name=self.name or self.spool_key,
                records=self._queue,
                format_record=self.format,
                transport_factory=self._make_transport,
                store=self._store,
                metrics=self.metrics,
                options=self.options,
                target=self.target,
            )
            worker.start()
            self._own_threads = (worker.thread.ident, worker.sender.thread.ident)
            self._worker = worker
            self._register_exit_hook()
            self._pid = pid
            return True

    def _register_exit_hook(self) -> None:
        # Close (send, else spool) at interpreter exit *before* anything the
        # transport depends on is torn down. atexit runs hooks last-in
        # first-out, and logging.shutdown was registered when logging was
        # imported, long before any HTTP client existed; urllib3 registers a
        # ``weakref.finalize`` per connection pool that empties the pool at
        # exit. Registered here, when the first event arrives (after
        # ElasticsearchHandler's constructor built its first client), this
        # hook runs before those finalizers, while the pool still works. A
        # forked child inherits it, and it closes the child's own worker.
        if getattr(self, "_atexit_hook", None) is None:
            self._atexit_hook = functools.partial(_close_at_exit, weakref.ref(self))
            atexit.register(self._atexit_hook)

    # -- the hot path --------------------------------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        """Queue a copy of the record's attributes; never blocks, never raises,
        never does I/O."""
        try:
            if self._closed or (self._pid != os.getpid() and not self._start()):
                self.metrics.drop("close")
                return
            if threading.get_ident() in self._own_threads:
                # Logged by code running on our own threads (the HTTP client,
                # a formatter): shipping it would feed the sink from itself.
                return
            # Both on the record itself, before anything is queued: every
            # handler that ships or writes it gives it the same event.id (the
            # document _id downstream).
            if getattr(record, "event_id", None) is None:
                record.event_id = uuid.uuid4().hex
            if not hasattr(record, "request_id"):
                # The worker formats on its own thread, where the request's
                # context variable is unset: pin the id now so application
                # logs written during a request stay correlated with it.
                # Outside a request the attribute stays absent, so a
                # RequestIDFilter on another handler still writes its "-".
                request_id = get_request_id()
                if request_id is not None:
                    record.request_id = request_id
            self._put(_queued(record))
        except Exception:
            self.handleError(record)

    def _put(self, item: object) -> None:
        """Queue one item for the worker, or count it dropped if the queue is full."""
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.metrics.drop("queue full")
            return
        self.metrics.add("queued")

    # -- flushing and closing ------------------------------------------------

    def _running_worker(self) -> Worker | None:
        """The worker of this process, if it started and the handler is open."""
        worker = self._worker
        if self._closed or self._pid != os.getpid() or worker is None:
            return None
        return worker if worker.thread.is_alive() else None

    def flush(self, timeout: float | None = None) -> None:
        """Hand everything queued so far to the sink or the spool (bounded wait)."""
        self._flush(self.options.close_timeout if timeout is None else timeout)

    def _flush(self, timeout: float) -> bool:
        """Like ``flush``; True only if the worker finished the round-trip in time."""
        if self._running_worker() is None:
            return False
        request = FlushRequest()
        try:
            self._queue.put(request, timeout=min(0.1, timeout))
        except queue.Full:
            return False
        return request.done.wait(timeout)

    def close(self) -> None:
        """Stop the worker: send what it can within ``close_timeout``, spool the rest."""
        with self._start_lock:  # not while a first event starts the worker
            worker = self._running_worker()
            self._closed = True
        if worker is not None:
            worker.stop()
            self._queue.wake(WAKE)
            worker.thread.join(self.options.close_timeout + _CLOSE_GRACE)
            if worker.thread.is_alive():
                warn(
                    f"{self.name or self.target}: the shipper worker did not finish in time; "
                    "events it held may be lost",
                    key="worker-close-timeout",
                )
        _live.discard(self)
        hook = getattr(self, "_atexit_hook", None)
        if hook is not None:
            atexit.unregister(hook)
        super().close()

    # -- introspection ---------------------------------------------------------

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued, pending or waiting in a backlog.

        For tests and benchmarks; returns False if ``timeout`` passed first.
        Starts the worker if no event did, so spools left by dead processes
        are adopted and replayed. Flushes only when the queue has drained, so
        batches keep their size.
        """
        if not self._start():
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.empty():
                # The flush round-trip also waits out a send in progress,
                # which neither the queue nor ``pending`` shows; so only a
                # completed round-trip counts.
                flushed = self._flush(max(0.0, deadline - time.monotonic()))
                if flushed and self._queue.empty() and not self.metrics.backlog:
                    return True
            time.sleep(0.02)
        return False

    def status(self) -> dict[str, Any]:
        """This process's view: target, spool directory and metrics."""
        return {
            "handler": self.name or type(self).__name__,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "target": self.target,
            "spool_dir": self.spool_dir if self.spool_enabled else None,
            "pid": os.getpid(),
            "metrics": self.metrics.status(),
        }


def _queued(record: logging.LogRecord) -> dict[str, Any]:
    """What the worker needs of ``record``: a shallow copy of its attributes,
    which the worker makes a record again with ``logging.makeLogRecord``.

    A copy, because the record is shared: handlers after this one may format
    or change it while the worker formats (``QueueHandler.prepare`` copies
    for the same reason, with ``copy.copy``, which costs the request thread
    far more than copying the dict: see benchmarks/results.md). The copy's ``exc_info``
    keeps a traceback alive only until the worker has formatted the event.
    """
    return record.__dict__.copy()


def _close_at_exit(ref: weakref.ref[ShipperHandler]) -> None:
    handler = ref()
    if handler is not None:
        handler.close()
