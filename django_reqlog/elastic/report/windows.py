"""Durations and time windows given on the command line."""

from __future__ import annotations

import datetime as dt
import re

from django_reqlog.elastic.report.fields import parse_timestamp

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> dt.timedelta:
    """Parse ``500ms``, ``30s``, ``15m``, ``2h``, ``1d`` or ``1w``."""
    match = _DURATION_RE.match(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 15m, 2h, 1d)")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    if seconds <= 0:
        raise ValueError(f"duration must be positive: {text!r}")
    return dt.timedelta(seconds=seconds)


def parse_since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """Turn ``15m`` / ``2h`` (relative to now) or an ISO timestamp into UTC."""
    try:
        window = parse_duration(text)
    except ValueError:
        parsed = parse_timestamp(text)
        if parsed is None:
            raise ValueError(
                f"--since {text!r} is neither a duration (15m, 2h, 1d) nor an ISO timestamp"
            ) from None
        return parsed
    return (now or dt.datetime.now(dt.timezone.utc)) - window
