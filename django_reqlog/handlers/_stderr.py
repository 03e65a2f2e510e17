"""Rate-limited reports to stderr.

The shipper must never log through :mod:`logging`: a handler that reports its
own failure through the logger it serves can recurse or deadlock. So internal
errors go straight to ``sys.stderr``, at most once per key per interval, with a
count of what was suppressed in between.
"""

from __future__ import annotations

import os
import sys
import threading
import time

_INTERVAL = 60.0


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        # key -> (monotonic time of the last line written, lines suppressed since)
        self.last: dict[str, tuple[float, int]] = {}


_state = _State()


def report(key: str, message: str, *, interval: float = _INTERVAL) -> bool:
    """Write ``message`` unless ``key`` was reported less than ``interval`` ago.

    Returns True when a line was written. Never raises.
    """
    now = time.monotonic()
    with _state.lock:
        last, suppressed = _state.last.get(key, (-interval - 1.0, 0))
        if now - last < interval:
            _state.last[key] = (last, suppressed + 1)
            return False
        _state.last[key] = (now, 0)
    suffix = f" ({suppressed} similar messages suppressed)" if suppressed else ""
    try:
        sys.stderr.write(f"django_reqlog: {message}{suffix}\n")
        sys.stderr.flush()
    except Exception:
        return False
    return True


def reset() -> None:
    """Forget the rate-limit state (tests)."""
    with _state.lock:
        _state.last.clear()


def _after_fork_in_child() -> None:
    # A worker thread of the parent may have held the lock at fork time; in
    # the child that thread is gone and the lock would stay held for ever.
    _state.lock = threading.Lock()
    _state.last = {}


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
