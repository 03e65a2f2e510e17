"""A throttled progress indicator on stderr."""

from __future__ import annotations

import time
from typing import IO


class Progress:
    """On a terminal one line is redrawn in place; into a file or pipe, where
    carriage returns would pile up, a plain line is written every 10 %."""

    def __init__(self, stream: IO[str], label: str, total: int | None) -> None:
        self.stream = stream
        self.label = label
        self.total = total
        self.tty = isatty(stream)
        self._last = 0.0
        self._last_step = -1
        self._shown = False

    def update(self, done: int, count: int, *, force: bool = False) -> None:
        now = time.monotonic()
        # Redrawing on every line would cost more than parsing it.
        if not force and now - self._last < 0.2:
            return
        self._last = now
        pct = min(100.0, 100.0 * done / self.total) if self.total else None
        if self.tty:
            self.stream.write(f"\r{self._text(pct, count)}")
        else:
            step = int(pct // 10) if pct is not None else int(count // 100_000)
            if step == self._last_step and not force:
                return
            self._last_step = step
            self.stream.write(f"{self._text(pct, count)}\n")
        self.stream.flush()
        self._shown = True

    def _text(self, pct: float | None, count: int) -> str:
        if pct is None:
            return f"{self.label}: {count:,} documents"
        return f"{self.label}: {pct:5.1f}% ({count:,} lines)"

    def finish(self, done: int, count: int) -> None:
        if self._shown:
            self.update(done, count, force=True)
            if self.tty:
                self.stream.write("\n")
            self.stream.flush()


def isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
