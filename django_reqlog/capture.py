"""Bounded, side-effect-free capture of request and response bodies.

The request stream is wrapped so the first ``limit`` bytes are remembered as
the application reads them. If the application never reads the body, the
prefix is pulled in after the response and pushed back, so a reader further
out still sees every byte in order. Nothing beyond ``limit`` is ever held for
logging's sake, whatever the size of the upload: a multipart body's parts are
counted as the bytes pass, without keeping them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any, Protocol


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...

    def readline(self, size: int = ..., /) -> bytes: ...


class TeeStream:
    """A read-only stream proxy that keeps a prefix of what passes through.

    ``seen`` counts every byte read, ``eof`` says a read found the end, and
    ``parts`` (for multipart bodies) counts each part as it passes.
    """

    __slots__ = ("_inner", "_pushback", "eof", "limit", "parts", "prefix", "seen")

    def __init__(self, inner: _Readable, limit: int, parts: MultipartCounter | None = None) -> None:
        self._inner = inner
        self._pushback = b""
        self.limit = limit
        self.prefix = bytearray()
        self.seen = 0
        self.eof = False
        self.parts = parts

    def _note(self, data: bytes, size: int | None = -1) -> bytes:
        if data:
            room = self.limit - len(self.prefix)
            if room > 0:
                self.prefix += data[:room]
            self.seen += len(data)
            if self.parts is not None:
                self.parts.feed(data)
        elif size != 0:
            self.eof = True
        return data

    def read(self, size: int | None = -1, /) -> bytes:
        if self._pushback:
            if size is None or size < 0:
                data, self._pushback = self._pushback + self._inner.read(), b""
                return data
            data, self._pushback = self._pushback[:size], self._pushback[size:]
            if len(data) < size:
                data += self._note(self._inner.read(size - len(data)), size - len(data))
            return data
        return self._note(self._inner.read() if size is None else self._inner.read(size), size)

    def readline(self, size: int | None = -1, /) -> bytes:
        if self._pushback:
            limit = size if size is not None and size >= 0 else None
            end = self._pushback.find(b"\n") + 1
            if end and (limit is None or end <= limit):
                data, self._pushback = self._pushback[:end], self._pushback[end:]
                return data
            if limit is not None and limit <= len(self._pushback):
                data, self._pushback = self._pushback[:limit], self._pushback[limit:]
                return data
            # The line goes on past the pushed-back prefix: finish it from the
            # stream, or a reader would see one line split in two.
            data, self._pushback = self._pushback, b""
            rest = (
                self._inner.readline() if limit is None else self._inner.readline(limit - len(data))
            )
            return data + rest
        return self._note(
            self._inner.readline() if size is None else self._inner.readline(size), size
        )

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    # Django calls these two for every body it reads. Through __getattr__
    # each would first fail the normal lookup (an AttributeError raised and
    # caught) and then run Python code: a measurable share of what the tee
    # costs a request. They forward to the wrapped stream; a stream without
    # them (PEP 3333 asks only for read and readline) counts as not seekable,
    # and closing it does nothing, which is what Django does with it anyway.
    def seekable(self) -> bool:
        seekable = getattr(self._inner, "seekable", None)
        return bool(seekable()) if seekable is not None else False

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()

    def stop_keeping(self) -> None:
        """Keep no more bytes and drop those kept (a view that turned body
        capture off); the bytes are still counted."""
        self.limit = 0
        self.prefix = bytearray()
        self.parts = None

    def fill_prefix(self, expected: int | None) -> None:
        """Read up to the prefix limit if the application left the body unread.

        Only called once the response exists. The bytes are pushed back so the
        stream is unchanged for anyone who reads it later.
        """
        if self._pushback:
            return
        wanted = self.limit - len(self.prefix)
        if expected is not None:
            wanted = min(wanted, expected - self.seen)
        if wanted <= 0:
            return
        data = self._note(self._inner.read(wanted), wanted)
        self._pushback = data

    def unread(self, expected: int | None) -> bool | None:
        """Whether the application left part of the body unread (asked before
        ``fill_prefix`` reads any of it); None when the length is unknown and
        no read has found the end yet."""
        if self._pushback:
            return True
        if expected is not None:
            return self.seen < expected
        return False if self.eof else None


class MultipartCounter:
    """Each part of a ``multipart/form-data`` body, counted as the bytes pass.

    Keeps a part's header block (capped) and counts its content exactly,
    holding at most one delimiter's length of content at a time, so a large
    upload costs nothing to remember. ``parts`` holds ``[head, size,
    complete]`` per part, at most ``MAX_PARTS`` of them.
    """

    MAX_PARTS = 256
    MAX_HEAD = 512  # header bytes kept per part (name, filename, type fit easily)
    _HEAD_LIMIT = 16 * 1024  # a header block longer than this is not multipart

    __slots__ = ("_buffer", "_current", "_delimiter", "_state", "parts")

    def __init__(self, boundary: bytes) -> None:
        # The body starts with "--boundary"; every later delimiter is
        # "\r\n--boundary", whose CRLF belongs to the delimiter, not the part.
        self._delimiter = b"\r\n--" + boundary
        self._buffer = b"\r\n"
        self._state = "preamble"
        self._current: list[Any] | None = None
        self.parts: list[list[Any]] = []

    def feed(self, data: bytes) -> None:
        buffer = self._buffer + data
        progressed = True
        while progressed and self._state != "done":
            buffer, progressed = getattr(self, "_" + self._state)(buffer)
        self._buffer = b"" if self._state == "done" else buffer

    # Each step takes what is buffered and returns what to keep, and whether
    # it moved on (False: it needs more bytes).

    def _preamble(self, buffer: bytes) -> tuple[bytes, bool]:
        at = buffer.find(self._delimiter)
        if at == -1:
            return buffer[-(len(self._delimiter) - 1) :], False
        self._state = "after_delimiter"
        return buffer[at + len(self._delimiter) :], True

    def _after_delimiter(self, buffer: bytes) -> tuple[bytes, bool]:
        if buffer.startswith(b"--"):
            self._state = "done"  # the closing delimiter
            return b"", True
        end = buffer.find(b"\r\n")
        if end == -1:
            if len(buffer) > self._HEAD_LIMIT:
                self._state = "done"  # not a multipart body after all
            return buffer, False
        self._state = "head"
        return buffer[end + 2 :], True

    def _head(self, buffer: bytes) -> tuple[bytes, bool]:
        end = buffer.find(b"\r\n\r\n")
        if end == -1:
            if len(buffer) > self._HEAD_LIMIT:
                self._state = "done"
            return buffer, False
        self._current = None
        if len(self.parts) < self.MAX_PARTS:
            self._current = [buffer[: min(end, self.MAX_HEAD)], 0, False]
            self.parts.append(self._current)
        self._state = "content"
        return buffer[end + 4 :], True

    def _content(self, buffer: bytes) -> tuple[bytes, bool]:
        at = buffer.find(self._delimiter)
        part = self._current
        if at == -1:
            # All but the last delimiter-length bytes are certainly content.
            keep = len(self._delimiter) - 1
            if len(buffer) <= keep:
                return buffer, False
            if part is not None:
                part[1] += len(buffer) - keep
            return buffer[-keep:], False
        if part is not None:
            part[1] += at
            part[2] = True
        self._state = "after_delimiter"
        return buffer[at + len(self._delimiter) :], True

    def snapshot(self) -> tuple[tuple[bytes, int, bool], ...]:
        return tuple((bytes(head), size, complete) for head, size, complete in self.parts)


class CountingIterator:
    """Counts bytes (and keeps a bounded prefix) of a streaming response.

    ``finished`` becomes True once the wrapped iterator is exhausted; a
    response closed before that was cut short (the client went away, or the
    iterator raised).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.prefix = bytearray()
        self.count = 0
        self.finished = False

    def _note(self, chunk: Any) -> None:
        size = len(chunk) if isinstance(chunk, (bytes, bytearray, memoryview, str)) else 0
        self.count += size
        room = self.limit - len(self.prefix)
        if room > 0 and isinstance(chunk, (bytes, bytearray)):
            self.prefix += chunk[:room]

    def wrap(self, content: Iterable[Any]) -> Iterator[Any]:
        for chunk in content:
            self._note(chunk)
            yield chunk
        self.finished = True

    async def awrap(self, content: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for chunk in content:
            self._note(chunk)
            yield chunk
        self.finished = True


def once(func: Callable[[], None]) -> Callable[[], None]:
    done = False

    def run() -> None:
        nonlocal done
        if not done:
            done = True
            func()

    return run
