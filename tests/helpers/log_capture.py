"""Attach a handler to the ``django_reqlog`` logger for the length of a test."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

H = TypeVar("H", bound=logging.Handler)


class KeepRecords(logging.Handler):
    """Keeps every record it is given, unformatted."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def attached(handler: H, level: int = logging.DEBUG) -> Iterator[H]:
    """The only handler that sees request events meanwhile; the logger's level
    and propagation are put back afterwards."""
    logger = logging.getLogger("django_reqlog")
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


@contextmanager
def tenant_record_factory() -> Iterator[None]:
    """A custom LogRecord factory (adds ``tenant="acme"``) for the length of a test."""
    original = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = original(*args, **kwargs)
        record.tenant = "acme"
        return record

    logging.setLogRecordFactory(factory)
    try:
        yield
    finally:
        logging.setLogRecordFactory(original)
