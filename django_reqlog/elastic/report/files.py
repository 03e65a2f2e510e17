"""JSON-lines log files as a source of documents."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

from django_reqlog._json import loads
from django_reqlog.elastic.errors import ElasticError
from django_reqlog.elastic.report.progress import Progress, isatty

# Files at least this big get a progress indicator even when stderr is not a TTY.
LARGE_FILE_BYTES = 50 * 1024 * 1024


@dataclass
class BadLines:
    """Lines that could not be read, counted instead of aborting the report."""

    count: int = 0
    first: list[str] = field(default_factory=list)

    def add(self, where: str, reason: str) -> None:
        self.count += 1
        if len(self.first) < 5:
            self.first.append(f"{where}: {reason}")


def iter_file_lines(
    path: str,
    bad: BadLines,
    progress: bool | None = None,
    stream: IO[str] | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(raw_line, document)`` for each readable JSON object line of ``path``.

    Unreadable lines (bad UTF-8, bad JSON, not an object) are counted in
    ``bad``. ``progress=None`` shows progress only when the file is large or
    stderr is a terminal.
    """
    err = stream if stream is not None else sys.stderr
    handle, size = _open(path)
    if progress is None:
        progress = size >= LARGE_FILE_BYTES or (isatty(err) and size >= 1024 * 1024)
    meter = Progress(err, f"reading {path}", size) if progress else None
    done = count = 0
    try:
        for lineno, raw in enumerate(handle, start=1):
            done += len(raw)
            count += 1
            if meter is not None:
                meter.update(done, count)
            parsed = _parse(raw, f"{path}:{lineno}", bad)
            if parsed is not None:
                yield parsed
    except OSError as exc:
        raise ElasticError(f"error reading {path}: {exc.strerror or exc}") from None
    finally:
        handle.close()
        if meter is not None:
            meter.finish(done, count)


def _open(path: str) -> tuple[BinaryIO, int]:
    try:
        size = os.path.getsize(path)
        return open(path, "rb"), size
    except FileNotFoundError:
        raise ElasticError(f"log file not found: {path}") from None
    except IsADirectoryError:
        raise ElasticError(f"log file is a directory: {path}") from None
    except OSError as exc:
        raise ElasticError(f"cannot open log file {path}: {exc.strerror or exc}") from None


def _parse(raw: bytes, where: str, bad: BadLines) -> tuple[str, dict[str, Any]] | None:
    """``(text, document)`` for a good line; ``None`` for a blank or bad one (counted)."""
    if not raw.strip():
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        bad.add(where, "not UTF-8")
        return None
    try:
        doc = loads(raw)
    except ValueError as exc:
        bad.add(where, f"not JSON ({str(exc).split(':')[0]})")
        return None
    if not isinstance(doc, dict):
        bad.add(where, f"JSON {type(doc).__name__}, not an object")
        return None
    return text, doc
