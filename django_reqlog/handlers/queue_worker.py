"""The worker thread: format, batch, send, spool, replay.

Everything slow happens here, never on the thread that called ``emit()``.
The loop wakes for the first of: a queued record, the flush interval, the
retry time of a waiting backlog, housekeeping, or the self-metric interval.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django_reqlog._stderr import warn
from django_reqlog.frozen import is_frozen, thaw

from .bounded_queue import BoundedQueue
from .metrics import ShipperMetrics, write_status_file
from .spool import Item, SpoolStore
from .transport import SendResult, Transport

SHIPPER_LOGGER = "django_reqlog.shipper"

# Housekeeping cadence: spool retry/adoption/expiry and the status file.
_MAINTENANCE_INTERVAL = 5.0


class _Wake:
    """Queue sentinel: wake the worker (close) without carrying a record."""


class FlushRequest:
    """Queue sentinel: deliver or spool everything queued before it, then set ``done``."""

    def __init__(self) -> None:
        self.done = threading.Event()


WAKE = _Wake()


@dataclass(frozen=True)
class WorkerOptions:
    batch_size: int
    batch_max_bytes: int
    flush_interval: float
    retry_initial: float
    retry_max: float
    timeout: float
    close_timeout: float
    metrics_interval: float | None


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random.

    Jitter keeps many processes that lost the same sink from retrying in
    lock-step; the fixed half keeps a retry from firing immediately.
    """
    delay = min(maximum, initial * (2 ** max(0, attempt - 1)))
    jittered: float = delay / 2 + random.uniform(0, delay / 2)
    return jittered


class _SendJob:
    __slots__ = ("done", "error", "items", "result", "timeout")

    def __init__(self, items: list[Item], timeout: float) -> None:
        self.items = items
        self.timeout = timeout
        self.done = threading.Event()
        self.result: SendResult | None = None
        self.error: BaseException | None = None


class _Sender:
    """Runs the worker's sends, one at a time, on a thread of their own.

    A send can block for its whole timeout on a stalled sink. Meanwhile the
    worker keeps taking records off the queue, formatting them and spooling
    them, so an outage on its own does not fill the queue. A daemon thread: a
    send stuck at exit must not hold the interpreter (close() aborts it first
    anyway).
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Transport, _SendJob]] = queue.SimpleQueue()
        self._name = name
        self._thread: threading.Thread | None = None

    def submit(self, transport: Transport, job: _SendJob) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        self._jobs.put((transport, job))

    def _run(self) -> None:
        while True:
            transport, job = self._jobs.get()
            try:
                job.result = transport.send(job.items, job.timeout)
            except BaseException as exc:  # handed to the worker, which reports it
                job.error = exc
            finally:
                job.done.set()


# How often a worker waiting on a send takes in newly queued records, and how
# many batches' worth it keeps in memory before spooling them: a sink that is
# merely slow for a moment should not cost a round trip through the disk.
_SEND_POLL = 0.02
_BATCHES_HELD_WHILE_SENDING = 4


class Worker:
    def __init__(
        self,
        *,
        name: str,
        records: BoundedQueue,
        format_record: Callable[[logging.LogRecord], str],
        transport_factory: Callable[[], Transport],
        store: SpoolStore,
        metrics: ShipperMetrics,
        options: WorkerOptions,
        target: str,
    ) -> None:
        self.records = records
        self.format_record = format_record
        self.transport_factory = transport_factory
        self.transport: Transport | None = None
        self.store = store
        self.metrics = metrics
        self.opts = options
        self.target = target
        self.name = name
        self.stopping = threading.Event()
        self.stop_deadline = float("inf")
        self.pending: list[Item] = []
        self.pending_bytes = 0
        # The batch inside ``transport.send``: held by the worker only, so a
        # close that gives up on a stuck send can still spool it.
        self.in_flight: list[Item] = []
        # Guards ``pending``, ``in_flight`` and every spool access, so close()
        # can take over from a worker stuck in a send (see ``abandon``). Never
        # held across a send or a format.
        self.lock = threading.Lock()
        self.abandoned = False  # close() took over: never touch the store again
        self.finished = False  # the worker closed the store itself
        self.attempt = 0
        self.next_retry = 0.0
        self._last_metric_bad = 0
        self.thread = threading.Thread(target=self._run, name=f"reqlog-shipper-{name}", daemon=True)
        self.sender = _Sender(f"reqlog-sender-{name}")
        # A flush request met while a send was in progress: handled after it.
        self.held: object | None = None
        # Request events moved off a nearly full queue as they are, to be
        # formatted once the worker catches up (see _stash).
        self.stash: collections.deque[object] = collections.deque()

    def start(self) -> None:
        self.thread.start()

    # -- main loop -----------------------------------------------------------

    def _run(self) -> None:
        try:
            with self.lock:
                self.store.open()
        except Exception as exc:
            warn(f"spool unavailable: {exc!r}", key="spool-open")
        now = time.monotonic()
        next_flush = now + self.opts.flush_interval
        next_maintenance = now + _MAINTENANCE_INTERVAL
        interval = self.opts.metrics_interval
        next_metrics = now + interval if interval else float("inf")
        while not self.stopping.is_set():
            try:
                wake_at = min(next_flush, next_maintenance, next_metrics)
                if self.store.backlog:
                    wake_at = min(wake_at, max(self.next_retry, now))
                self._collect(max(0.0, wake_at - time.monotonic()))
                now = time.monotonic()
                if self.pending and (now >= next_flush or self._batch_full()):
                    self._deliver()
                if now >= next_flush:
                    next_flush = now + self.opts.flush_interval
                if self.store.backlog and now >= self.next_retry:
                    self._replay(deadline=now + max(self.opts.flush_interval, 0.5))
                if now >= next_metrics and interval:
                    self._inject_metrics()
                    next_metrics = now + interval
                if now >= next_maintenance:
                    self._maintain()
                    next_maintenance = now + _MAINTENANCE_INTERVAL
            except Exception as exc:
                warn(f"shipper worker error: {exc!r}", key="worker-loop")
                time.sleep(0.1)
        self._shutdown()

    def _batch_full(self, batches: int = 1) -> bool:
        return (
            len(self.pending) >= self.opts.batch_size * batches
            or self.pending_bytes >= self.opts.batch_max_bytes * batches
        )

    def _collect(self, timeout: float) -> None:
        """Block up to ``timeout`` for a record, then drain without blocking."""
        if self.held is not None:
            obj, self.held = self.held, None
        elif self.stash:
            obj = self.stash.popleft()
        else:
            try:
                obj = self.records.get(timeout=timeout)
            except queue.Empty:
                return
        while True:
            self._take(obj)
            self._yield_to_requests()
            if self._batch_full():
                self._deliver()
            next_obj = self._next()
            if next_obj is None:
                return
            obj = next_obj

    def _next(self) -> object | None:
        """The next thing to take, without blocking: stashed events first
        (they are older), unless the queue is the one about to overflow."""
        if self.stash and not self._overloaded():
            return self.stash.popleft()
        while True:
            try:
                obj = self.records.get_nowait()
            except queue.Empty:
                return self.stash.popleft() if self.stash else None
            if self._stash(obj):
                continue
            if self.stash:  # older than obj: it waits its turn
                self.stash.append(obj)
                return self.stash.popleft()
            return obj

    def _take_stash(self) -> None:
        """Take everything stashed, oldest first (a flush or shutdown needs it all out)."""
        while self.stash:
            self._take(self.stash.popleft())

    def _yield_to_requests(self) -> None:
        """Formatting (parsing, masking) is pure Python and holds the GIL; hand
        it over after each record, so a request thread waiting for it gets in
        at once instead of after a whole switch interval (5 ms). Except when
        the queue is more than half full: a process kept busy by its requests
        would otherwise starve the worker until the queue overflows and drops
        events. Then the worker takes its share of the CPU, and requests wait."""
        if self.records.qsize() * 2 < self.records.maxsize:
            time.sleep(0)

    def _overloaded(self) -> bool:
        return self.records.qsize() * 4 >= self.records.maxsize * 3

    def _stash(self, obj: object) -> bool:
        """Past three quarters of the queue, formatting is not keeping up (the
        process is busy with its requests, maybe while spooling for a stalled
        sink). Request events are then moved off the queue as they are, which
        costs next to nothing, and formatted once the worker catches up, so a
        burst is absorbed instead of dropped at a full queue. Nothing reaches
        the disk before it is formatted, and so masked. The stash holds at most
        ``queue_size`` events; past that, the oldest are dropped and counted."""
        if self.abandoned or not is_frozen(obj) or not self._overloaded():
            return False
        self.stash.append(obj)
        if len(self.stash) > self.records.maxsize:
            self.stash.popleft()
            self.metrics.dropped_in_worker += 1
        return True

    def _take(self, obj: object) -> None:
        record = thaw(obj)
        if record is not None:
            self._add(record)
        elif isinstance(obj, FlushRequest):
            # Everything queued before it must go out: the stash included.
            self._take_stash()
            self._deliver()
            obj.done.set()

    def _format(self, record: logging.LogRecord) -> Item | None:
        try:
            text = self.format_record(record)
        except Exception as exc:
            self.metrics.failed += 1
            self.metrics.last_failure = f"format error: {exc!r}"
            warn(f"cannot format log record: {exc!r}", key="format")
            return None
        # Only bytes are kept from here on: once the caller drops the record,
        # its traceback (and every frame's locals) can be freed, long before
        # the batch is sent. The record itself is shared with other handlers,
        # so it is never mutated here.
        event_id = getattr(record, "event_id", None) or uuid.uuid4().hex
        return str(event_id), text.encode("utf-8", "replace")

    def _add(self, record: logging.LogRecord) -> None:
        item = self._format(record)
        if item is None:
            return
        with self.lock:
            if self.abandoned:
                # close() spooled everything else and closed the store while
                # a send was stuck; this one was taken off the queue just before.
                self.metrics.failed += 1
                self.metrics.last_failure = "event taken in as close() gave up on a stuck send"
                return
            self.pending.append(item)
            self.pending_bytes += len(item[1])

    # -- delivery ------------------------------------------------------------

    def _degraded(self) -> bool:
        return bool(self.store.backlog) or time.monotonic() < self.next_retry

    def _deliver(self) -> None:
        with self.lock:
            if self.abandoned:
                return
            items, self.pending, self.pending_bytes = self.pending, [], 0
            if not items:
                return
            if self._degraded():
                # Keep order: while a backlog waits, new events queue behind it.
                self.store.store(items)
                return
            self.in_flight = items
        result = self._send(items, self.opts.timeout)
        with self.lock:
            self.in_flight = []
            if self.abandoned:
                return  # close() spooled the whole batch already
            if result.retry:
                self.store.store([items[i] for i in result.retry])

    def _send(self, items: list[Item], timeout: float) -> SendResult:
        try:
            if self.transport is None:
                self.transport = self.transport_factory()
            job = _SendJob(items, timeout)
            self.sender.submit(self.transport, job)
            while not job.done.wait(_SEND_POLL):
                self._take_in_while_sending(job.done)
            if job.error is not None:
                raise job.error
            assert job.result is not None
            result = job.result
        except Exception as exc:
            message = f"send to {self.target} failed: {exc!r}"
            self.metrics.last_failure = message
            warn(message, key=f"send:{self.target}")
            result = SendResult(retry=list(range(len(items))))
        for _, reason in result.failed:
            self.metrics.last_failure = reason
            warn(f"{self.target} rejected an event: {reason}", key=f"rejected:{self.target}")
        self.metrics.failed += len(result.failed)
        self.metrics.sent += len(items) - len(result.failed) - len(result.retry)
        if result.retry:
            self.metrics.retried += len(result.retry)
            self.attempt += 1
            delay = backoff_delay(self.attempt, self.opts.retry_initial, self.opts.retry_max)
            self.next_retry = time.monotonic() + delay
        else:
            self.attempt = 0
            self.next_retry = 0.0
        return result

    def _take_in_while_sending(self, sent: threading.Event) -> None:
        """While a send is in progress: format what is queued, and spool it
        once a few batches are waiting (the send may be stuck for its whole
        timeout)."""
        # Back to the send as soon as it is over, even if requests keep the
        # queue from ever running empty.
        while self.held is None and not self.abandoned and not sent.is_set():
            obj = self._next()
            if obj is None:
                return
            record = thaw(obj)
            if record is not None:
                self._add(record)
                self._yield_to_requests()
            elif isinstance(obj, FlushRequest):
                self.held = obj  # everything before it must go out first
            if self._batch_full(_BATCHES_HELD_WHILE_SENDING):
                with self.lock:
                    if self.abandoned:
                        return
                    items, self.pending, self.pending_bytes = self.pending, [], 0
                    # Sent later, from the spool, in the order they were queued.
                    self.store.store(items)

    def _replay(self, deadline: float, timeout: float | None = None) -> None:
        """Send the backlog oldest-first until it is empty, a retry is due, or time's up."""
        while self.store.backlog and time.monotonic() >= self.next_retry:
            with self.lock:
                if self.abandoned:
                    return
                source, rows = self.store.head(self.opts.batch_size)
            if not rows:
                return
            items = [(r.event_id, r.payload) for r in rows]
            result = self._send(items, timeout if timeout is not None else self.opts.timeout)
            retry = set(result.retry)
            with self.lock:
                if self.abandoned:
                    return  # unacknowledged rows stay in the spool: replayed, not lost
                self.store.ack(source, [r for i, r in enumerate(rows) if i not in retry])
            if retry or time.monotonic() >= deadline:
                return

    # -- periodic ------------------------------------------------------------

    def _inject_metrics(self) -> None:
        """Queue a shipper-health record into our own pipeline (never via logging)."""
        snapshot = self.metrics.snapshot()
        bad = snapshot["dropped"] + snapshot["failed"]
        level = logging.WARNING if bad > self._last_metric_bad else logging.INFO
        self._last_metric_bad = bad
        summary = " ".join(f"{k}={v}" for k, v in snapshot.items())
        record = logging.LogRecord(
            SHIPPER_LOGGER, level, __file__, 0, f"reqlog shipper {self.target}: {summary}", (), None
        )
        record.reqlog_shipper = snapshot
        record.event_id = uuid.uuid4().hex
        self._add(record)

    def _maintain(self) -> None:
        with self.lock:
            if self.abandoned:
                return
            self.store.maintain()
            path = self.store.status_path
            if path is not None:
                try:
                    write_status_file(path, self.name, self.target, self.metrics)
                except OSError as exc:
                    warn(f"cannot write status file: {exc}", key=f"status:{path}")

    # -- shutdown ------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish; the close budget starts now, not when it notices."""
        self.stop_deadline = time.monotonic() + self.opts.close_timeout
        self.stopping.set()

    def abort_send(self) -> None:
        """From another thread: break a send stuck on a stalled peer (close timed out)."""
        abort = getattr(self.transport, "abort", None)
        if abort is not None:
            with contextlib.suppress(Exception):
                abort()

    def abandon(self) -> int:
        """From close(), once the worker missed its deadline: spool what it holds.

        The worker may be stuck in a send that never returns (a stalled sink,
        a transport that cannot be interrupted). Its batch in flight, its
        pending events and whatever is still queued go to the spool from the
        calling thread, and the worker is told never to touch the store again,
        so they are replayed by the next start instead of lost. If the stuck
        send does complete after all, the replay repeats it: at-least-once, and
        Elasticsearch's create-by-``_id`` makes that exactly-once.
        Returns how many events were spooled.
        """
        if not self.lock.acquire(timeout=1.0):
            warn("shipper worker busy at close; events may be lost", key="worker-abandon")
            return 0
        try:
            if self.finished or self.abandoned:
                return 0
            self.abandoned = True
            items = [*self.in_flight, *self.pending]
            self.in_flight, self.pending, self.pending_bytes = [], [], 0
            # The stash first: it is older than anything still queued.
            left, self.stash = self.stash, collections.deque()
            while True:
                try:
                    obj = left.popleft() if left else self.records.get_nowait()
                except queue.Empty:
                    break
                record = thaw(obj)
                if record is not None:
                    item = self._format(record)
                    if item is not None:
                        items.append(item)
                elif isinstance(obj, FlushRequest):
                    obj.done.set()
            try:
                self.store.store(items)
            finally:
                self.store.close()
            return len(items)
        except Exception as exc:
            warn(f"shipper close error: {exc!r}", key="worker-abandon")
            return 0
        finally:
            self.lock.release()

    def _shutdown(self) -> None:
        deadline = min(self.stop_deadline, time.monotonic() + self.opts.close_timeout)
        try:
            while True:
                try:
                    self._take(self.records.get_nowait())
                except queue.Empty:
                    break
            # Spool first, then send from the spool: if the process dies while
            # sending, nothing that was queued is lost.
            self._take_stash()
            with self.lock:
                if self.abandoned:
                    return
                items, self.pending, self.pending_bytes = self.pending, [], 0
                self.store.store(items)
            self.next_retry = 0.0
            while self.store.backlog:
                remaining = deadline - time.monotonic()
                if remaining <= 0.05:
                    break
                before = self.store.backlog
                self._replay(deadline, timeout=min(self.opts.timeout, remaining))
                if self.store.backlog >= before and self.next_retry:
                    break  # the sink refused; leave the rest for the next start
            self._take_stash()
            with self.lock:
                # Taken in while the replay above was sending.
                if not self.abandoned and self.pending:
                    items, self.pending, self.pending_bytes = self.pending, [], 0
                    self.store.store(items)
            if isinstance(self.held, FlushRequest):
                self.held.done.set()
            self._maintain()
        except Exception as exc:
            warn(f"shipper close error: {exc!r}", key="worker-close")
        finally:
            with self.lock:
                if not self.abandoned:
                    self.store.close()
                    self.finished = True
            if self.transport is not None:
                with contextlib.suppress(Exception):
                    self.transport.close()
