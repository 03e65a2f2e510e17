"""``--since`` and ``--bucket`` values."""

from __future__ import annotations

import datetime as dt

import pytest

from django_reqlog.elastic.report.windows import parse_duration, parse_since


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1w", 604800)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "15", "m15", "-5m", "0s", "2 hours"])
def test_parse_duration_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_parse_since_relative_and_absolute() -> None:
    now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
    assert parse_since("15m", now) == now - dt.timedelta(minutes=15)
    assert parse_since("2026-03-01T10:00:00Z", now) == dt.datetime(
        2026, 3, 1, 10, tzinfo=dt.timezone.utc
    )
    # A naive timestamp is taken as UTC, an offset is converted.
    assert parse_since("2026-03-01T10:00:00", now).hour == 10
    assert parse_since("2026-03-01T12:00:00+02:00", now).hour == 10
    with pytest.raises(ValueError, match="neither a duration"):
        parse_since("yesterday", now)
