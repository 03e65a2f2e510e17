"""``REQLOG_CAPTURE_DB``: each request's query count, total time and slowest
statement, compared with Django's own ``CaptureQueriesContext`` for the same
request, on SQLite, with two databases, sync and async views."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connections
from django.db.utils import OperationalError
from django.test import AsyncClient, Client, override_settings
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from django_reqlog.query_stats import MAX_SQL_CHARS, mask_sql

pytestmark = [
    pytest.mark.urls("tests.helpers.view_control_urls"),
    pytest.mark.django_db(databases=["default", "other"]),
]
ON = {"REQLOG_CAPTURE_DB": True}
# CaptureQueriesContext keeps each time as "%.3f" seconds.
ROUNDING_NS = 500_000


@contextmanager
def django_counts() -> Iterator[list[CaptureQueriesContext]]:
    """Django's own record of the queries, on both databases."""
    with ExitStack() as stack:
        yield [stack.enter_context(CaptureQueriesContext(connections[a])) for a in connections]


def seen(contexts: list[CaptureQueriesContext]) -> list[float]:
    return [float(q["time"]) * 1e9 for c in contexts for q in c.captured_queries]


def get(path: str, client: str) -> Any:
    if client == "async":  # thread-sensitive code runs on this thread: Django's counts see it
        return async_to_sync(AsyncClient().get)(path)
    return Client().get(path)


@override_settings(**ON)
@pytest.mark.parametrize(
    ("client", "path"),
    [
        ("sync", "/queries/"),
        ("async", "/queries/"),
        ("sync", "/async-queries/"),
        ("async", "/async-queries/"),
        ("sync", "/no-queries/"),
    ],
)
def test_counts_and_times_match_capture_queries_context(reqlog_events, client, path):
    with django_counts() as contexts:
        response = get(path, client)
    assert response.status_code == 200
    times = seen(contexts)
    db = reqlog_events[0]["reqlog"]["db"]
    assert db["queries"] == len(times)
    if not times:
        assert db == {"queries": 0, "duration": 0}
        return
    # Ours times each statement inside Django's debug cursor's timing.
    assert 0 < db["duration"] <= sum(times) + ROUNDING_NS * len(times)
    assert 0 < db["slowest"] <= max(times) + ROUNDING_NS
    assert db["slowest"] <= db["duration"]
    assert "slowest_statement" not in db  # no SQL text unless asked for
    flat = reqlog_events.logstash[0]
    assert (flat["db_queries"], flat["db_duration_ns"]) == (db["queries"], db["duration"])
    assert flat["db_duration_ms"] == round(db["duration"] / 1e6, 3)


def test_both_databases_are_counted(reqlog_events):
    with override_settings(**ON), django_counts() as (default, other):
        assert Client().get("/queries/").json()["answer"] == 42
    assert len(default.captured_queries) == 3 and len(other.captured_queries) == 1
    assert reqlog_events[0]["reqlog"]["db"]["queries"] == 4


def test_off_by_default(reqlog_events):
    Client().get("/queries/")
    assert "db" not in reqlog_events[0]["reqlog"]
    assert not any(k.startswith("db_") for k in reqlog_events.logstash[0])


def test_no_query_of_its_own_and_the_same_response(reqlog_events):
    with django_counts() as plain:
        off = Client().get("/queries/")
    with override_settings(**ON), django_counts() as counted:
        on = Client().get("/queries/")
    assert [q["sql"] for c in counted for q in c.captured_queries] == [
        q["sql"] for c in plain for q in c.captured_queries
    ]
    assert on.content == off.content and on.status_code == off.status_code
    assert {k: v for k, v in on.items() if k != "X-Request-ID"} == {
        k: v for k, v in off.items() if k != "X-Request-ID"
    }


def _failure(capture: bool) -> BaseException:
    with override_settings(REQLOG_CAPTURE_DB=capture), pytest.raises(OperationalError) as info:
        Client().get("/failing-query/")
    return info.value


def test_a_failing_statement_raises_exactly_as_without(reqlog_events):
    without, with_ = _failure(False), _failure(True)
    assert (type(with_), with_.args) == (type(without), without.args)
    assert type(with_.__cause__) is type(without.__cause__)
    assert with_.__cause__.args == without.__cause__.args  # type: ignore[union-attr]
    assert reqlog_events[1]["reqlog"]["db"]["queries"] == 1  # it ran, and was counted
    assert "db" not in reqlog_events[0]["reqlog"]


def test_concurrent_requests_count_their_own_queries(reqlog_events):
    """Without ASGI's per-request thread, two requests' sync code shares one
    thread and its connection: each counts only what it ran."""

    async def both() -> None:
        client = AsyncClient()
        await asyncio.gather(client.get("/async-queries/"), client.get("/async-queries/"))

    with override_settings(**ON):
        asyncio.run(both())
    assert [e["reqlog"]["db"]["queries"] for e in reqlog_events] == [2, 2]


@override_settings(REQLOG_CAPTURE_DB=True, REQLOG_CAPTURE_DB_SQL=True)
def test_the_slowest_statement_masked_on_request(reqlog_events, monkeypatch):
    Client().get("/queries/")
    statement = reqlog_events[0]["reqlog"]["db"]["slowest_statement"]
    assert statement.startswith("SELECT")
    assert not re.search(r"'[^?]|\b\d+\b", statement), statement
    assert reqlog_events.logstash[0]["db_slowest_statement"] == statement


@pytest.mark.parametrize(
    ("sql", "masked"),
    [
        ("SELECT 1 + 41", "SELECT ? + ?"),
        (
            "SELECT \"t1\".\"id\" FROM t1 WHERE name = 'O''Brien' AND x > 3.5e2 LIMIT 21",
            "SELECT \"t1\".\"id\" FROM t1 WHERE name = '?' AND x > ? LIMIT ?",
        ),
        ("UPDATE u SET pw = 'hunter2' -- by admin\nWHERE id = %s", "UPDATE u SET pw = '?' /* ? */\nWHERE id = %s"),
        ("SELECT x'DEADBEEF', 0xFF, /* card 4111 */ $1", "SELECT x'?', ?, /* ? */ $1"),
        ("INSERT INTO t VALUES ('never closed", "INSERT INTO t VALUES ('?'"),
        ("SELECT 'Bearer abcdefghijklmnop' AS a, col2", "SELECT '?' AS a, col2"),
    ],
)
def test_mask_sql(sql, masked):
    assert mask_sql(sql, lambda text: text) == masked


SECRET = st.sampled_from(["hunter2", "4111111111111111", "O'Reilly", "s3cr\\'et", "12.5"])
SQL_PIECES = st.sampled_from(["SELECT", " a ", ", ", "=", "(", ")", " WHERE ", "\n", "--", "/*"])


@given(
    pieces=st.lists(
        st.one_of(SQL_PIECES, SECRET.map(lambda s: "'" + s.replace("'", "''") + "'")),
        max_size=12,
    )
)
def test_mask_sql_never_keeps_a_string_literal(pieces):
    masked = mask_sql("".join(pieces), lambda text: text)
    for secret in ("hunter2", "4111111111111111", "Reilly", "s3cr", "12.5"):
        assert secret not in masked
    assert len(masked) <= MAX_SQL_CHARS


def test_mask_sql_is_bounded_and_scrubbed():
    assert len(mask_sql("SELECT a" + ", a" * 5000, lambda text: text)) == MAX_SQL_CHARS
    assert mask_sql("SELECT jwt", lambda text: text.replace("jwt", "[REDACTED]")).endswith(
        "[REDACTED]"
    )


def test_the_event_is_valid_json_with_the_fields(reqlog_events):
    with override_settings(REQLOG_CAPTURE_DB=True, REQLOG_CAPTURE_DB_SQL=True):
        Client().get("/queries/")
    doc = json.loads(reqlog_events.lines[0])
    assert set(doc["reqlog"]["db"]) == {"queries", "duration", "slowest", "slowest_statement"}
