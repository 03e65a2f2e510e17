"""The shippers' queue: FIFO, bounded, never blocking a put_nowait."""

from __future__ import annotations

import queue
import threading
import time

import pytest

from django_reqlog.handlers.bounded_queue import BoundedQueue


@pytest.mark.parametrize("size", [1, 3, 100])
def test_holds_up_to_its_size_then_refuses(size: int) -> None:
    q = BoundedQueue(size)
    for i in range(size):
        q.put_nowait(i)
    assert q.qsize() == size
    with pytest.raises(queue.Full):
        q.put_nowait("one too many")
    assert [q.get_nowait() for _ in range(size)] == list(range(size))
    assert q.empty()


def test_get_waits_then_reports_empty() -> None:
    q = BoundedQueue(2)
    with pytest.raises(queue.Empty):
        q.get_nowait()
    started = time.monotonic()
    with pytest.raises(queue.Empty):
        q.get(timeout=0.05)
    assert time.monotonic() - started >= 0.04


def test_get_wakes_for_a_put_from_another_thread() -> None:
    q = BoundedQueue(2)
    threading.Timer(0.05, q.put_nowait, args=("late",)).start()
    assert q.get(timeout=5.0) == "late"


def test_put_waits_for_room_and_gives_up_after_its_timeout() -> None:
    q = BoundedQueue(1)
    q.put_nowait("first")
    with pytest.raises(queue.Full):
        q.put("second", timeout=0.05)
    threading.Timer(0.05, q.get_nowait).start()
    q.put("third", timeout=5.0)
    assert q.get_nowait() == "third"


def test_racing_threads_overshoot_by_at_most_one_each() -> None:
    size, threads, per_thread = 50, 8, 200
    q = BoundedQueue(size)
    refused = []
    lock = threading.Lock()

    def fill() -> None:
        mine = 0
        for i in range(per_thread):
            try:
                q.put_nowait(i)
            except queue.Full:
                mine += 1
        with lock:
            refused.append(mine)

    workers = [threading.Thread(target=fill) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert size <= q.qsize() <= size + threads
    assert q.qsize() + sum(refused) == threads * per_thread
