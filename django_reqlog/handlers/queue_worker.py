"""The worker thread: format, batch, send, spool, replay.

Everything slow happens here, never on the thread that called ``emit()``. An
event waits in one place at a time:

1. the bounded queue, until the worker takes it and formats it;
2. ``pending``, the formatted events of the next batch;
3. the batch on the wire (``job``), sent by the sender thread;
4. the spool: this process's file, the files it adopted from dead processes,
   or the memory fallback when the disk refuses writes.

While the sink answers, a partial batch waits up to ``flush_interval`` before
it is sent. While it is known to be down (a send failed and its retry is not
due, or a backlog waits ahead of new events), or a send has gone unanswered
for a whole ``flush_interval``, pending events reach the spool within
``SPOOL_DELAY``: that is what a ``kill -9`` can cost then.
"""

from __future__ import annotations

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

from .bounded_queue import BoundedQueue
from .metrics import ShipperMetrics, write_status_file
from .spool import Item, Row, SpoolStore
from .transport import SendResult, Transport

SHIPPER_LOGGER = "django_reqlog.shipper"

#: While the sink is down, how long a formatted event may wait before it is spooled.
SPOOL_DELAY = 0.1

# Housekeeping cadence: spool retry/adoption/expiry and the status file.
_MAINTENANCE_INTERVAL = 5.0
# At most one stderr line about drops per handler and minute (_stderr's pace).
_DROP_REPORT_INTERVAL = 60.0
# How many batches' worth the worker keeps in memory behind a send in
# progress before spooling them: a sink that is merely slow for a moment
# should not cost a round trip through the disk.
_BATCHES_HELD_WHILE_SENDING = 4
# At shutdown, how long to wait for an aborted send to return.
_ABORT_WAIT = 1.0


class _Wake:
    """Queue sentinel: wake the worker (a send finished, or close) without a record."""


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
    """One batch on the wire: new events (``rows`` None) or spool rows being replayed."""

    __slots__ = ("done", "error", "items", "result", "rows", "source", "started", "timeout")

    def __init__(
        self,
        items: list[Item],
        timeout: float,
        source: object = None,
        rows: list[Row] | None = None,
    ) -> None:
        self.items = items
        self.timeout = timeout
        self.source = source
        self.rows = rows
        self.started = time.monotonic()
        self.done = threading.Event()
        self.result: SendResult | None = None
        self.error: BaseException | None = None


class _Sender:
    """Runs the worker's sends, one at a time, on a thread of their own.

    A send can block for its whole timeout on a stalled sink. Meanwhile the
    worker keeps taking records off the queue, formatting them and spooling
    them, so an outage on its own does not fill the queue. A daemon thread: a
    send stuck at exit must not hold the interpreter.
    """

    def __init__(self, name: str, notify: Callable[[], None]) -> None:
        self._jobs: queue.SimpleQueue[tuple[Transport, _SendJob]] = queue.SimpleQueue()
        self._notify = notify
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def submit(self, transport: Transport, job: _SendJob) -> None:
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
                self._notify()


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
        self.pending_since = 0.0  # when the oldest pending event was formatted
        self.job: _SendJob | None = None
        self.stuck: _SendJob | None = None  # a send given up on at shutdown
        self.flushes: list[FlushRequest] = []
        self.attempt = 0
        self.next_retry = 0.0
        self._last_metric_bad = 0
        self._next_drop_report = 0.0
        self.thread = threading.Thread(target=self._run, name=f"reqlog-shipper-{name}", daemon=True)
        self.sender = _Sender(f"reqlog-sender-{name}", lambda: records.wake(WAKE))

    def start(self) -> None:
        self.sender.thread.start()
        self.thread.start()

    @property
    def in_flight(self) -> list[Item]:
        return self.job.items if self.job is not None else []

    @property
    def idle(self) -> bool:
        return not self.pending and self.job is None

    # -- main loop -----------------------------------------------------------

    def _run(self) -> None:
        self._guarded(self.store.adopt_orphans, "spool adoption")
        now = time.monotonic()
        next_maintenance = now + _MAINTENANCE_INTERVAL
        interval = self.opts.metrics_interval
        next_metrics = now + interval if interval else float("inf")
        while not self.stopping.is_set():
            try:
                self._collect(self._wait(min(next_maintenance, next_metrics)))
                now = time.monotonic()
                self._advance(now)
                if now >= next_metrics and interval:
                    self._inject_metrics()
                    next_metrics = now + interval
                if now >= next_maintenance:
                    self._maintain()
                    next_maintenance = now + _MAINTENANCE_INTERVAL
                self._report_drops(now)
            except Exception as exc:
                warn(f"shipper worker error: {exc!r}", key="worker-loop")
                time.sleep(0.1)
        self._shutdown()

    def _wait(self, periodic: float) -> float:
        """Seconds until the loop has something to do, if nothing is queued."""
        now = time.monotonic()
        wake_at = periodic
        if self.pending and self._sink_down():
            wake_at = min(wake_at, self.pending_since + SPOOL_DELAY)
        elif self.pending and self.job is None:
            wake_at = min(wake_at, self.pending_since + self.opts.flush_interval)
        if self.job is not None:
            # A finished send wakes the worker through the queue; past a
            # flush interval unanswered, the sink counts as down.
            suspect_at = self.job.started + self.opts.flush_interval
            if suspect_at > now:
                wake_at = min(wake_at, suspect_at)
        elif self.store.backlog:
            wake_at = min(wake_at, self.next_retry)
        return max(0.0, wake_at - now)

    def _collect(self, timeout: float) -> None:
        """Block up to ``timeout`` for a record, then take what is queued, up to a batch."""
        try:
            obj = self.records.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            self._take(obj)
            self._yield_to_requests()
            if self._batch_full():
                return
            try:
                obj = self.records.get_nowait()
            except queue.Empty:
                return

    def _yield_to_requests(self) -> None:
        """Formatting (parsing, masking) is pure Python and holds the GIL; hand
        it over after each record, so a request thread waiting for it gets in
        at once instead of after a whole switch interval (5 ms). Except when
        the queue is more than half full: a process kept busy by its requests
        would otherwise starve the worker until the queue overflows and drops
        events. Then the worker takes its share of the CPU, and requests wait."""
        if self.records.qsize() * 2 < self.records.maxsize:
            time.sleep(0)

    def _batch_full(self, batches: int = 1) -> bool:
        return (
            len(self.pending) >= self.opts.batch_size * batches
            or self.pending_bytes >= self.opts.batch_max_bytes * batches
        )

    def _take(self, obj: object) -> None:
        if isinstance(obj, dict):  # a record's attributes, as ShipperHandler.emit queues them
            self._add(logging.makeLogRecord(obj))
        elif isinstance(obj, FlushRequest):
            self.flushes.append(obj)

    def _format(self, record: logging.LogRecord) -> Item | None:
        try:
            text = self.format_record(record)
        except Exception as exc:
            self.metrics.add("failed")
            self.metrics.last_failure = f"format error: {exc!r}"
            warn(f"cannot format log record: {exc!r}", key="format")
            return None
        # Only bytes are kept from here on: once the caller drops the record,
        # its traceback (and every frame's locals) can be freed, long before
        # the batch is sent.
        event_id = getattr(record, "event_id", None) or uuid.uuid4().hex
        return str(event_id), text.encode("utf-8", "replace")

    def _add(self, record: logging.LogRecord) -> None:
        item = self._format(record)
        if item is None:
            return
        if not self.pending:
            self.pending_since = time.monotonic()
        self.pending.append(item)
        self.pending_bytes += len(item[1])

    # -- sending and spooling ------------------------------------------------

    def _sink_down(self) -> bool:
        """Known down: a send failed and its retry is not due, a backlog waits
        ahead of new events, or a send has gone a flush interval unanswered."""
        now = time.monotonic()
        if self.store.backlog or now < self.next_retry:
            return True
        return self.job is not None and now - self.job.started >= self.opts.flush_interval

    def _advance(self, now: float) -> None:
        """Finish a completed send, start the next one, spool what must not wait."""
        job = self.job
        if job is not None and job.done.is_set():
            self.job = None
            self._finish(job)
        if self.job is None:
            self.job = self._next_job(now)
        if self.pending and self._spool_due(now):
            self._spool_pending()
        if self.flushes and self.idle:
            for flush in self.flushes:
                flush.done.set()
            self.flushes = []

    def _spool_due(self, now: float) -> bool:
        if self._sink_down():
            urgent = self.flushes or self.stopping.is_set() or self._batch_full()
            return bool(urgent) or now >= self.pending_since + SPOOL_DELAY
        # A send in progress: a few batches may wait behind it in memory.
        return self.job is not None and self._batch_full(_BATCHES_HELD_WHILE_SENDING)

    def _spool_pending(self) -> None:
        items, self.pending, self.pending_bytes = self.pending, [], 0
        self.store.store(items)

    def _next_job(self, now: float) -> _SendJob | None:
        """Replay the backlog first (order), else send a due batch of pending events."""
        if self.store.backlog:
            if now < self.next_retry:
                return None
            # After a failure, one event probes the sink before whole batches.
            limit = self.opts.batch_size if self.attempt == 0 else 1
            source, rows = self.store.head(limit, self.opts.batch_max_bytes)
            if not rows:  # unreadable for now: try again later, not in a busy loop
                self.next_retry = now + self.opts.retry_initial
                return None
            items = [(r.event_id, r.payload) for r in rows]
            return self._submit(_SendJob(items, self.opts.timeout, source, rows))
        due = self.flushes or self.stopping.is_set() or self._batch_full()
        if not self.pending or not (due or now >= self.pending_since + self.opts.flush_interval):
            return None
        return self._submit(_SendJob(self._take_batch(), self.opts.timeout))

    def _take_batch(self) -> list[Item]:
        """The oldest batch_size events (batch_max_bytes at most) of ``pending``."""
        count = size = 0
        for count, (_, payload) in enumerate(self.pending, 1):
            size += len(payload)
            if count >= self.opts.batch_size or size >= self.opts.batch_max_bytes:
                break
        batch, self.pending = self.pending[:count], self.pending[count:]
        self.pending_bytes -= sum(len(p) for _, p in batch)
        self.pending_since = time.monotonic()
        return batch

    def _submit(self, job: _SendJob) -> _SendJob:
        try:
            if self.transport is None:
                self.transport = self.transport_factory()
            self.sender.submit(self.transport, job)
        except Exception as exc:
            job.error = exc
            job.done.set()
        return job

    def _finish(self, job: _SendJob) -> None:
        result = self._outcome(job)
        if job.rows is None:
            self.store.store([job.items[i] for i in result.retry])
        else:
            retry = set(result.retry)
            sent = [r for i, r in enumerate(job.rows) if i not in retry]
            self.store.ack(job.source, sent, [job.rows[i] for i in result.retry])

    def _outcome(self, job: _SendJob) -> SendResult:
        """Count the send's result and set the next retry time."""
        if job.error is not None or job.result is None:
            message = f"send to {self.target} failed: {job.error!r}"
            self.metrics.last_failure = message
            warn(message, key=f"send:{self.target}")
            result = SendResult(retry=list(range(len(job.items))))
        else:
            result = job.result
        for _, reason in result.failed:
            self.metrics.last_failure = reason
            warn(f"{self.target} rejected an event: {reason}", key=f"rejected:{self.target}")
        self.metrics.add("failed", len(result.failed))
        self.metrics.add("sent", len(job.items) - len(result.failed) - len(result.retry))
        if result.retry:
            self.metrics.add("retried", len(result.retry))
            self.attempt += 1
            delay = backoff_delay(self.attempt, self.opts.retry_initial, self.opts.retry_max)
            self.next_retry = time.monotonic() + delay
        else:
            self.attempt = 0
            self.next_retry = 0.0
        return result

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
        self.store.maintain()
        path = self.store.status_path
        if path is not None:
            try:
                write_status_file(path, self.name, self.target, self.metrics)
            except OSError as exc:
                warn(f"cannot write status file: {exc}", key=f"status:{path}")

    def _report_drops(self, now: float, *, final: bool = False) -> None:
        """Say on stderr how many events were dropped, why and since when."""
        if now < self._next_drop_report and not final:
            return
        report = self.metrics.take_drop_report()
        if report is None:
            return
        key = f"drops:{id(self)}" + (":final" if final else "")
        warn(f"{self.name} -> {self.target}: {report}", key=key)
        # Counted from after the line was written: _stderr's own minute never
        # holds the next report back.
        self._next_drop_report = time.monotonic() + _DROP_REPORT_INTERVAL

    def _guarded(self, action: Callable[[], None], what: str) -> None:
        try:
            action()
        except Exception as exc:
            warn(f"{what} failed: {exc!r}", key=f"worker:{what}")

    # -- shutdown ------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish; the close budget starts now, not when it notices."""
        self.stop_deadline = time.monotonic() + self.opts.close_timeout
        self.stopping.set()

    def _shutdown(self) -> None:
        """Send what can be sent before the deadline; spool everything else."""
        try:
            self._drain()
            while self._work_left() and time.monotonic() < self.stop_deadline:
                self._advance(time.monotonic())
                if self.job is not None:
                    self.job.done.wait(max(0.0, self.stop_deadline - time.monotonic()))
            self._give_up_on_send()
            self._drain()
            self._spool_pending()
        except Exception as exc:
            warn(f"shipper close error: {exc!r}", key="worker-close")
        finally:
            for flush in self.flushes:
                flush.done.set()
            self._guarded(self._maintain, "status file")
            self._guarded(self.store.close, "spool close")
            if self.transport is not None and self.stuck is None:
                with contextlib.suppress(Exception):
                    self.transport.close()
            self._report_drops(time.monotonic(), final=True)

    def _drain(self) -> None:
        while True:
            try:
                self._take(self.records.get_nowait())
            except queue.Empty:
                return

    def _work_left(self) -> bool:
        if self.pending or self.job is not None:
            return True
        return bool(self.store.backlog) and time.monotonic() >= self.next_retry

    def _give_up_on_send(self) -> None:
        """A send still on the wire at the deadline: break it, or spool its batch.

        If it completes after all, the replay repeats it: at-least-once, and
        Elasticsearch's create-by-``_id`` makes that exactly-once.
        """
        job = self.job
        if job is None:
            return
        abort = getattr(self.transport, "abort", None)
        if not job.done.is_set() and abort is not None:
            with contextlib.suppress(Exception):
                abort()
        if job.done.wait(_ABORT_WAIT):
            self.job = None
            self._finish(job)
            return
        self.job, self.stuck = None, job
        if job.rows is None:  # replayed rows are in the spool already
            self.store.store(job.items)
