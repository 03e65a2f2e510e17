"""What the handler tests share: a plain record, the short timings a test
shipper runs with, and a maker that closes every shipper a test made."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, TypeVar

from django_reqlog.handlers import ShipperHandler

# Short intervals so a test waits milliseconds, not the production seconds;
# no periodic metrics records mixed into what a test reads back.
FAST: dict[str, Any] = {
    "flush_interval": 0.05,
    "retry_initial": 0.05,
    "retry_max": 0.3,
    "close_timeout": 5.0,
    "metrics_interval": None,
}

S = TypeVar("S", bound=ShipperHandler)


def record(message: str, name: str = "tests.shipper", **extra: Any) -> logging.LogRecord:
    """An INFO record of ``message`` from logger ``name``, with ``extra`` attributes."""
    rec = logging.LogRecord(name, logging.INFO, __file__, 1, message, (), None)
    rec.__dict__.update(extra)
    return rec


class Shippers:
    """Makes shippers with ``FAST`` timings and a spool under the test's
    ``tmp_path`` (both overridable), and closes all of them at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.spool_dir = tmp_path / "spool"
        self.made: list[ShipperHandler] = []

    def make(self, cls: type[S], *args: Any, **options: Any) -> S:
        handler = cls(*args, **{**FAST, "spool_dir": str(self.spool_dir), **options})
        self.made.append(handler)
        return handler

    def close(self) -> None:
        for handler in self.made:
            handler.close()
