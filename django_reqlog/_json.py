"""Compact JSON that never fails: orjson when installed, the stdlib otherwise."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

_orjson_dumps: Callable[..., bytes] | None
_loads: Callable[[str | bytes], Any]
try:
    import orjson

    _orjson_dumps = orjson.dumps
    _ORJSON_OPTS = orjson.OPT_NON_STR_KEYS
    _loads = orjson.loads
except ImportError:  # pragma: no cover - exercised in environments without orjson
    _orjson_dumps = None
    _ORJSON_OPTS = 0
    _loads = json.loads


def is_json(text: str) -> bool:
    """True when ``text`` is one well-formed JSON document."""
    try:
        _loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def loads(data: str | bytes) -> Any:
    """Parse one JSON document: orjson when installed, and the stdlib for the
    few things orjson refuses (NaN, integers beyond 64 bits)."""
    try:
        return _loads(data)
    except ValueError:
        if _loads is json.loads:
            raise
        return json.loads(data)


def _fallback(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"


def dumps(data: Any) -> str:
    """One line of valid UTF-8 JSON for anything: unknown objects become repr()."""
    if _orjson_dumps is not None:
        try:
            return _orjson_dumps(data, default=_fallback, option=_ORJSON_OPTS).decode("utf-8")
        except (TypeError, ValueError, OverflowError):
            pass  # e.g. lone surrogates or huge ints; the stdlib path copes
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=_fallback)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates cannot be written as UTF-8; escape them instead.
        text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), default=_fallback)
    return text
