"""Rate-limited reports to stderr.

The shipper must never log through :mod:`logging`: a handler that reports its
own failure through the logger it serves can recurse or deadlock. So internal
errors go straight to ``sys.stderr``, at most once per key per interval, with a
count of what was suppressed in between.
"""

from __future__ import annotations

import sys
import threading
import time

_INTERVAL = 60.0

_lock = threading.Lock()
# key -> (monotonic time of the last line written, lines suppressed since)
_last: dict[str, tuple[float, int]] = {}


def report(key: str, message: str, *, interval: float = _INTERVAL) -> bool:
    """Write ``message`` unless ``key`` was reported less than ``interval`` ago.

    Returns True when a line was written. Never raises.
    """
    now = time.monotonic()
    with _lock:
        last, suppressed = _last.get(key, (-interval - 1.0, 0))
        if now - last < interval:
            _last[key] = (last, suppressed + 1)
            return False
        _last[key] = (now, 0)
    suffix = f" ({suppressed} similar messages suppressed)" if suppressed else ""
    try:
        sys.stderr.write(f"django_reqlog: {message}{suffix}\n")
        sys.stderr.flush()
    except Exception:
        return False
    return True


def reset() -> None:
    """Forget the rate-limit state (tests, and the child after a fork)."""
    with _lock:
        _last.clear()
