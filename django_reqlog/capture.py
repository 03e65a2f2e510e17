"""Bounded, side-effect-free capture of request and response bodies.

The request stream is wrapped so the first ``limit`` bytes are remembered as
the application reads them. If the application never reads the body, the
prefix is pulled in after the response and pushed back, so a reader further
out still sees every byte in order. Nothing beyond ``limit`` is ever held for
logging's sake, whatever the size of the upload.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any, Protocol


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...

    def readline(self, size: int = ..., /) -> bytes: ...


class TeeStream:
    """A read-only stream proxy that keeps a prefix of what passes through."""

    __slots__ = ("_inner", "_pushback", "limit", "prefix", "seen")

    def __init__(self, inner: _Readable, limit: int) -> None:
        self._inner = inner
        self._pushback = b""
        self.limit = limit
        self.prefix = bytearray()
        self.seen = 0

    def _note(self, data: bytes) -> bytes:
        room = self.limit - len(self.prefix)
        if room > 0 and data:
            self.prefix += data[:room]
        self.seen += len(data)
        return data

    def read(self, size: int | None = -1, /) -> bytes:
        if self._pushback:
            if size is None or size < 0:
                data, self._pushback = self._pushback + self._inner.read(), b""
                return data
            data, self._pushback = self._pushback[:size], self._pushback[size:]
            if len(data) < size:
                data += self._note(self._inner.read(size - len(data)))
            return data
        return self._note(self._inner.read() if size is None else self._inner.read(size))

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
        return self._note(self._inner.readline() if size is None else self._inner.readline(size))

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
        data = self._note(self._inner.read(wanted))
        self._pushback = data


class CountingIterator:
    """Counts bytes (and keeps a bounded prefix) of a streaming response.

    ``on_close`` runs exactly once, when the server closes the response.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.prefix = bytearray()
        self.count = 0

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

    async def awrap(self, content: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for chunk in content:
            self._note(chunk)
            yield chunk


def once(func: Callable[[], None]) -> Callable[[], None]:
    done = False

    def run() -> None:
        nonlocal done
        if not done:
            done = True
            func()

    return run
