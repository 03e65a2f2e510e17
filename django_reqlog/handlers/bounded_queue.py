"""The shippers' queue: ``queue.SimpleQueue`` with a size bound.

``queue.Queue.put_nowait`` takes a lock and notifies a condition in Python
code, several microseconds on the request thread for every event.
``SimpleQueue`` does both in C. The bound is checked before the put, so
threads racing past the check together can overshoot it by one item each:
harmless for what it is for, a memory bound.
"""

from __future__ import annotations

import queue
import time


class BoundedQueue:
    """The part of ``queue.Queue``'s interface the shippers use."""

    __slots__ = ("_items", "maxsize")

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: queue.SimpleQueue[object] = queue.SimpleQueue()

    def put_nowait(self, item: object) -> None:
        if self._items.qsize() >= self.maxsize:
            raise queue.Full
        self._items.put(item)

    def put(self, item: object, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for room (only flush requests wait)."""
        deadline = time.monotonic() + timeout
        while self._items.qsize() >= self.maxsize:
            if time.monotonic() >= deadline:
                raise queue.Full
            time.sleep(0.005)
        self._items.put(item)

    def wake(self, sentinel: object) -> None:
        """Put a sentinel past the bound: the worker must wake even when the
        queue is full. Only a finished send and close() do, one at a time."""
        self._items.put(sentinel)

    def get(self, timeout: float | None = None) -> object:
        return self._items.get(timeout=timeout)

    def get_nowait(self) -> object:
        return self._items.get_nowait()

    def qsize(self) -> int:
        return self._items.qsize()

    def empty(self) -> bool:
        return self._items.empty()
