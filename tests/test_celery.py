"""django_reqlog.celery: a task sent during a request carries the request's ID
and trace, logs with them, and passes them on to the tasks it sends.

The end-to-end tests run a real ``celery worker`` against the real Redis the
test bed starts (tests/testbed/redisnode.py, so ``make test``; see
tests/helpers/redis_server.py for when they skip).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from celery.app.task import Context
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

import django_reqlog.celery as reqlog_celery
from django_reqlog.context import RequestContext, _current, current_context
from django_reqlog.request_id import _VALID_ID
from tests.helpers.redis_server import redis_url

ROOT = Path(__file__).resolve().parents[1]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
RESULT_TIMEOUT = 120  # a generous bound on a shared machine, not a measurement


@dataclass
class Worker:
    app: Any
    log_file: Path
    process: subprocess.Popen[bytes]

    def result(self, task_id: str) -> Any:
        """The task's return value, once the worker has run it."""
        outcome = self.app.AsyncResult(task_id)
        deadline = time.monotonic() + RESULT_TIMEOUT
        while not outcome.ready():
            if self.process.poll() is not None:
                pytest.fail(f"the worker exited with {self.process.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"task {task_id} did not finish:\n{self.tail()}")
            time.sleep(0.1)
        return outcome.get(timeout=RESULT_TIMEOUT)

    def records(self) -> list[dict[str, Any]]:
        """The worker's log records, as its ECSFormatter wrote them."""
        return [json.loads(line) for line in self.log_file.read_text().splitlines() if line]

    def record(self, message: str) -> dict[str, Any]:
        (found,) = [r for r in self.records() if r["message"] == message]
        return found

    def tail(self) -> str:
        text = self.log_file.read_text() if self.log_file.exists() else ""
        return "\n".join(text.splitlines()[-30:])


@pytest.fixture(params=["prefork", "threads"])
def worker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Worker]:
    """A real ``celery worker`` on its own queue of the test bed's Redis."""
    url = redis_url()
    queue = f"reqlog-test-{uuid.uuid4().hex[:12]}"
    log_file = tmp_path / "worker.jsonl"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(ROOT),
        "REQLOG_TEST_CELERY_QUEUE": queue,
        "REQLOG_TEST_CELERY_LOG": str(log_file),
    }
    command = [sys.executable, "-m", "celery", "-A", "tests.helpers.celery_app", "worker"]
    command += [f"--pool={request.param}", "--concurrency=1", "--loglevel=INFO", "-Q", queue]
    command += ["-n", f"{queue}@%h", "--without-gossip", "--without-mingle"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, start_new_session=True
    )
    from tests.helpers.celery_app import app

    app.conf.update(broker_url=f"{url}/0", result_backend=f"{url}/1", task_default_queue=queue)
    try:
        yield Worker(app, log_file, process)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.redis
@pytest.mark.urls("tests.helpers.integration_urls")
def test_tasks_sent_from_a_request_log_with_its_id_and_trace(capture, worker):
    response = Client().get("/sends-task/", headers={"traceparent": TRACEPARENT})
    assert response.status_code == 202
    event = capture.only()
    request_id, request_span = event["http"]["request"]["id"], event["span"]["id"]
    assert event["trace"]["id"] == TRACE_ID

    first = worker.result(response.json()["task_id"])
    assert first["headers"] == {
        "reqlog_request_id": request_id,
        "reqlog_trace_id": TRACE_ID,
        "reqlog_parent_span_id": request_span,
    }
    assert worker.result(first["second"]) == "done"
    unrelated = worker.app.send_task("tests.helpers.celery_app.unrelated")  # outside any request
    assert worker.result(unrelated.id) == "done"

    one = worker.record("first task: from the view")
    two = worker.record("second task")
    for record in (one, two):
        assert record["http"] == {"request": {"id": request_id}}
        assert record["trace"] == {"id": TRACE_ID}
    spans = {request_span, one["span"]["id"], two["span"]["id"]}
    assert len(spans) == 3  # each task is a span of its own in the request's trace
    # The worker's context is put back after each task: nothing leaks into the next.
    assert not {"http", "trace", "span"} & set(worker.record("unrelated task"))


@pytest.mark.redis
@pytest.mark.urls("tests.helpers.integration_urls")
def test_a_request_without_traceparent_still_passes_its_id(capture, worker):
    response = Client().get("/sends-task/")
    request_id = capture.only()["http"]["request"]["id"]
    first = worker.result(response.json()["task_id"])
    assert first["headers"]["reqlog_request_id"] == request_id
    assert first["headers"]["reqlog_trace_id"] is None
    worker.result(first["second"])
    for message in ("first task: from the view", "second task"):
        record = worker.record(message)
        assert record["http"] == {"request": {"id": request_id}}
        assert "trace" not in record


@pytest.mark.redis
@pytest.mark.urls("tests.helpers.integration_urls")
def test_a_retry_keeps_the_headers_it_was_first_sent_with(capture, worker):
    response = Client().get("/sends-flaky-task/", headers={"traceparent": TRACEPARENT})
    event = capture.only()
    request_id = event["http"]["request"]["id"]
    retried = worker.result(response.json()["task_id"])
    assert retried == {
        "reqlog_request_id": request_id,
        "reqlog_trace_id": TRACE_ID,
        "reqlog_parent_span_id": event["span"]["id"],  # the request's, not the first attempt's
    }
    attempts = [worker.record(f"flaky attempt {n}") for n in (0, 1)]
    assert [a["http"]["request"]["id"] for a in attempts] == [request_id, request_id]


# -- the receivers on their own, with Celery's real request objects ----------


@pytest.fixture
def connected() -> Iterator[None]:
    reqlog_celery.connect()
    try:
        yield
    finally:
        reqlog_celery.disconnect()


def test_publish_adds_the_headers_and_keeps_existing_ones():
    headers: dict[str, Any] = {"reqlog_trace_id": "f" * 32}
    token = _current.set(RequestContext("req-1", "a" * 32, "b" * 16, None))
    try:
        reqlog_celery.add_headers(headers=headers, body=(), exchange="", routing_key="celery")
    finally:
        _current.reset(token)
    assert headers == {
        "reqlog_request_id": "req-1",
        "reqlog_trace_id": "f" * 32,  # a retry keeps the headers it was first sent with
        "reqlog_parent_span_id": "b" * 16,
    }
    outside: dict[str, Any] = {}
    reqlog_celery.add_headers(headers=outside)
    assert outside == {}


@pytest.fixture
def job(connected: None) -> tuple[Any, list[RequestContext | None]]:
    """A task run in this process with ``apply()``, and the contexts it ran in."""
    from celery import Celery

    app = Celery("reqlog_apply", set_as_current=False)
    seen: list[RequestContext | None] = []

    @app.task
    def job() -> None:
        seen.append(current_context())

    return job, seen


def test_an_eager_task_keeps_its_callers_context(job):
    """``task.apply()`` runs in the caller's context and has no headers of ours."""
    job, seen = job
    context = RequestContext("req-eager", None, "c" * 16, None)
    token = _current.set(context)
    try:
        job.apply()
    finally:
        _current.reset(token)
    job.apply()
    assert seen == [context, None]


def test_the_task_context_ends_with_the_task(job):
    job, seen = job
    job.apply(headers={"reqlog_request_id": "req-2", "reqlog_trace_id": TRACE_ID})
    (inside,) = seen
    assert inside is not None
    assert (inside.request_id, inside.trace_id, inside.parent_span_id) == ("req-2", TRACE_ID, None)
    assert inside.span_id is not None and len(inside.span_id) == 16
    assert current_context() is None


@given(
    request_id=st.one_of(
        st.none(),
        st.text(max_size=200),
        st.from_regex(r"[A-Za-z0-9._-]{1,128}", fullmatch=True),
        st.integers(),
        st.binary(),
    ),
    trace_id=st.one_of(st.none(), st.text(max_size=40), st.just("0" * 32), st.just(TRACE_ID)),
    span_id=st.one_of(st.none(), st.text(max_size=20), st.just("0" * 16), st.just("a" * 16)),
)
def test_headers_from_the_broker_are_validated(request_id, trace_id, span_id):
    request = Context(
        {"reqlog_request_id": request_id, "reqlog_trace_id": trace_id},
        reqlog_parent_span_id=span_id,
    )
    context = reqlog_celery.task_context(request)
    well_formed = isinstance(request_id, str) and _VALID_ID.fullmatch(request_id)
    if not well_formed:
        assert context is None
        return
    assert context is not None
    assert context.request_id == request_id
    assert context.trace_id == (TRACE_ID if trace_id == TRACE_ID else None)
    assert context.parent_span_id == ("a" * 16 if span_id == "a" * 16 else None)


def test_connect_without_celery_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "celery", None)  # import celery -> ImportError
    with pytest.raises(ImportError, match=r'pip install "django-reqlog\[celery\]"'):
        reqlog_celery.connect()
