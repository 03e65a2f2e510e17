"""A pytest plugin for projects that use django-reqlog: the ``reqlog_events`` fixture.

Installed with the package and registered through the ``pytest11`` entry
point as ``reqlog`` (``-p no:reqlog`` turns it off). Loading it does nothing:
no Django setup, no handler, no import of the rest of the package. Only a
test that asks for the fixture gets a handler on the ``django_reqlog``
logger, for that test alone::

    def test_signup(client, reqlog_events):
        client.post("/signup/", {"username": "ada", "password": "hunter2"})
        assert reqlog_events[-1]["http"]["response"]["status_code"] == 201
        assert "hunter2" not in reqlog_events.text

The events are the ones a handler with ``ECSFormatter`` would ship, masked by
the project's settings, whatever made the request: the test client, the
async client, DRF's ``APIClient`` or a real HTTP client against
``live_server``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

__all__ = ["ReqlogEvents", "reqlog_events"]


class ReqlogEvents(list[dict[str, Any]]):
    """The events of the requests made during the test, in the order they
    were emitted: each as ECS, parsed from the JSON line.

    A streamed response's event is emitted when the response is closed: once
    its content has been read through (the test clients close it then) or
    ``response.close()`` was called. Under ``live_server`` the server closes
    it after the client has the last byte, so ``wait_for`` it.
    """

    def __init__(self) -> None:
        super().__init__()
        #: The same events as the ECS JSON lines a handler would write.
        self.lines: list[str] = []
        #: The same events in ``LogstashFormatter``'s python-logstash v1 form.
        self.logstash: list[dict[str, Any]] = []
        self._arrived = threading.Condition()

    @property
    def text(self) -> str:
        """All the ECS lines, one per line: for asserting what never appears."""
        return "\n".join(self.lines)

    def wait_for(self, count: int, timeout: float = 10.0) -> ReqlogEvents:
        """Wait until at least ``count`` events are in (for requests served by
        another thread, such as ``live_server``'s); fail the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"{len(self)} of {count} request events within {timeout}s")
                self._arrived.wait(left)
        return self

    def _add(self, ecs_line: str, logstash_line: str) -> None:
        with self._arrived:
            self.lines.append(ecs_line)
            self.logstash.append(json.loads(logstash_line))
            self.append(json.loads(ecs_line))
            self._arrived.notify_all()


class _Collector(logging.Handler):
    """Formats each request event as a shipping handler would, into a ReqlogEvents."""

    def __init__(self, events: ReqlogEvents) -> None:
        from django_reqlog.formatters import ECSFormatter, LogstashFormatter

        super().__init__(logging.DEBUG)
        self.events = events
        self.ecs = ECSFormatter()
        self.logstash = LogstashFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        if "reqlog" not in record.__dict__:  # shipper health and other records
            return
        try:
            self.events._add(self.ecs.format(record), self.logstash.format(record))
        except Exception:
            self.handleError(record)


@pytest.fixture
def reqlog_events() -> Iterator[ReqlogEvents]:
    """The events of the requests this test makes (see ``ReqlogEvents``).

    For the length of the test the ``django_reqlog`` logger is let through
    at INFO if it was set higher, so every request has its event; handlers
    of the project's own still see what they saw before, and more.
    """
    logger = logging.getLogger("django_reqlog")
    events = ReqlogEvents()
    handler = _Collector(events)
    old_level = logger.level
    if not logger.isEnabledFor(logging.INFO):
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield events
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
