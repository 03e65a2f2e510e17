"""Rate-limited notes on stderr for the package's own failures.

Never routed through ``logging``: a broken handler must not feed itself (it
could recurse, or deadlock on its own lock). Used by the middleware, the
formatters and the shipper handlers alike.
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
        self.last: dict[str, float] = {}
        self.suppressed: dict[str, int] = {}


_state = _State()


def warn(message: str, *, key: str | None = None) -> None:
    """Print ``message`` at most once a minute per ``key`` (default: the message)."""
    key = key or message
    now = time.monotonic()
    with _state.lock:
        last = _state.last.get(key)
        if last is not None and now - last < _INTERVAL:
            _state.suppressed[key] = _state.suppressed.get(key, 0) + 1
            return
        _state.last[key] = now
        skipped = _state.suppressed.pop(key, 0)
    suffix = f" ({skipped} similar messages suppressed)" if skipped else ""
    say(f"{message}{suffix}")


def say(message: str) -> None:
    """Print ``message`` now. For reports their caller already makes once each
    (settings problems), which a rate limit must not swallow."""
    try:
        sys.stderr.write(f"django-reqlog: {message}\n")
        sys.stderr.flush()
    except Exception:  # stderr itself may be closed at interpreter exit
        return


def reset() -> None:
    """Forget the rate-limit state (tests)."""
    with _state.lock:
        _state.last.clear()
        _state.suppressed.clear()


def _after_fork_in_child() -> None:
    # A thread of the parent (a shipper worker) may have held the lock at fork
    # time; in the child that thread is gone and the lock would stay held for
    # ever, hanging the first warning. The child also starts its own budget.
    _state.lock = threading.Lock()
    _state.last = {}
    _state.suppressed = {}


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
