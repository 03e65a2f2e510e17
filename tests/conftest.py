from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from django_reqlog.formatters import ECSFormatter, LogstashFormatter
from tests.helpers.log_capture import attached

# tests.helpers.privacy prints the privacy suites' FIGURES at the end of
# the session, added up across pytest-xdist's workers.
pytest_plugins = ["tests.helpers.es_fixtures", "tests.helpers.privacy", "pytester"]


class Capture(logging.Handler):
    """Keeps records and formats each with both formatters, as a real handler would."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.ecs = ECSFormatter()
        self.logstash = LogstashFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def ecs_lines(self) -> list[str]:
        return [self.ecs.format(r) for r in self.records]

    def logstash_lines(self) -> list[str]:
        return [self.logstash.format(r) for r in self.records]

    def ecs_docs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.ecs_lines()]

    def logstash_docs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.logstash_lines()]

    def only(self) -> dict[str, Any]:
        assert len(self.records) == 1, [r.getMessage() for r in self.records]
        return self.ecs_docs()[0]


@pytest.fixture
def capture() -> Iterator[Capture]:
    with attached(Capture()) as handler:
        yield handler
