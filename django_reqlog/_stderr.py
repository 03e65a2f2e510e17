"""Rate-limited notes on stderr for the package's own failures.

Never routed through ``logging``: a broken handler must not feed itself.
"""

from __future__ import annotations

import sys
import threading
import time

_INTERVAL = 60.0
_lock = threading.Lock()
_last: dict[str, float] = {}
_suppressed: dict[str, int] = {}


def warn(message: str, *, key: str | None = None) -> None:
    """Print ``message`` at most once a minute per ``key`` (default: the message)."""
    key = key or message
    now = time.monotonic()
    with _lock:
        last = _last.get(key)
        if last is not None and now - last < _INTERVAL:
            _suppressed[key] = _suppressed.get(key, 0) + 1
            return
        _last[key] = now
        skipped = _suppressed.pop(key, 0)
    suffix = f" ({skipped} similar messages suppressed)" if skipped else ""
    try:
        sys.stderr.write(f"django-reqlog: {message}{suffix}\n")
    except Exception:  # stderr itself may be closed at interpreter exit
        return
