"""Values out of a JSON document, whatever way its writer nested the keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

_MISSING: Any = object()


def lookup(doc: Any, dotted: str) -> Any:
    """Return ``doc[dotted]`` whether the document is nested, flat-dotted or mixed.

    ECS writers differ: some de-dot everything, some keep ``log.level`` flat
    next to nested objects, so every split of the path is tried.
    """
    parts = dotted.split(".")
    # The common, fully nested shape first: this runs a dozen times per line.
    obj = doc
    for part in parts:
        if type(obj) is dict and part in obj:
            obj = obj[part]
        else:
            break
    else:
        return obj
    value = _lookup(doc, parts)
    return None if value is _MISSING else value


def _lookup(obj: Any, parts: list[str]) -> Any:
    if not parts:
        return obj
    if not isinstance(obj, dict):
        return _MISSING
    for cut in range(len(parts), 0, -1):
        key = ".".join(parts[:cut])
        if key in obj:
            found = _lookup(obj[key], parts[cut:])
            if found is not _MISSING:
                return found
    return _MISSING


def parse_timestamp(value: Any) -> dt.datetime | None:
    """Parse an ISO 8601 timestamp into an aware UTC datetime, or ``None``."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)
