"""JSON lines in one file that several worker processes append to.

gunicorn or uWSGI workers each hold their own copy of the handler and write
the same file, which Filebeat or Elastic Agent reads. Three rules keep that
file whole:

- each line is one ``os.write()`` on a descriptor opened with ``O_APPEND``:
  the kernel moves to the end of the file and writes the whole line in one
  step, so lines of different workers never interleave, however long they
  are (on local filesystems; NFS does not honour ``O_APPEND`` across hosts).
  A buffered text stream gives that only as an accident of its buffer sizes;
- the descriptor is opened by the process that writes, at its first line,
  and opened again in a forked child: a descriptor the preloading master
  opened is never shared;
- before each line the path is checked as ``WatchedFileHandler`` does: once
  logrotate renamed or removed the file, the next line goes to a new file
  at the configured path, so rotation needs no signal and no restart.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import uuid

from django_reqlog._stderr import warn

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


class JSONLinesFileHandler(logging.Handler):
    """Append each formatted record as one line to ``filename``.

    Every line carries an ``event.id`` (one is assigned to records that come
    without), so a shipper can use it as the document ``_id`` and a re-read
    never indexes a line twice. ``emit()`` never raises: a failure (missing
    directory, full disk) is reported on stderr, rate-limited, and the next
    record tries again.
    """

    def __init__(self, filename: str | os.PathLike[str], level: int | str = logging.NOTSET) -> None:
        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(f"filename must be a str or a path, not {type(filename).__name__}")
        path = os.fspath(filename)
        if not isinstance(path, str):
            raise TypeError(f"filename must be a text path, not {type(path).__name__}")
        if not path.strip() or "\x00" in path:
            raise ValueError(f"filename must name a file, got {path!r}")
        super().__init__(level)
        self.baseFilename = os.path.abspath(path)
        self._fd: int | None = None
        # (pid, st_dev, st_ino) of the file self._fd writes to.
        self._identity: tuple[int, int, int] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if getattr(record, "event_id", None) is None:
                record.event_id = uuid.uuid4().hex
            # backslashreplace: a lone surrogate becomes a JSON escape, not an error.
            line = self.format(record).encode("utf-8", "backslashreplace") + b"\n"
            written = os.write(self._descriptor(), line)
            if written != len(line):
                # Only a full disk or a file-size limit cuts a regular-file write
                # short; writing the rest later could land after another
                # worker's line, so the line is reported lost instead.
                raise OSError(f"short write: {written} of {len(line)} bytes")
        except Exception:
            self.handleError(record)

    def _descriptor(self) -> int:
        pid = os.getpid()
        try:
            stat = os.stat(self.baseFilename)
            current: tuple[int, int, int] | None = (pid, stat.st_dev, stat.st_ino)
        except FileNotFoundError:
            current = None
        if self._fd is None or current != self._identity:
            self._close_descriptor()
            fd = os.open(self.baseFilename, _FLAGS, 0o666)
            stat = os.fstat(fd)
            self._fd, self._identity = fd, (pid, stat.st_dev, stat.st_ino)
        return self._fd

    def _close_descriptor(self) -> None:
        # In a forked child this closes the child's copy only.
        fd, self._fd, self._identity = self._fd, None, None
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        self.acquire()
        try:
            with contextlib.suppress(OSError):
                self._close_descriptor()
        finally:
            self.release()
        super().close()

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        warn(
            f"JSONLinesFileHandler could not write to {self.baseFilename}: {error!r}",
            key=f"files:{self.baseFilename}",
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.baseFilename} ({logging.getLevelName(self.level)})>"
