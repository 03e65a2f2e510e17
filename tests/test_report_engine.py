"""The report engine (django_reqlog.report) on hand-made events: no Django needed."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import random
import statistics
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_reqlog.report import (
    REDACTED,
    BadLines,
    ReportError,
    event_from_doc,
    iter_file_lines,
    lookup,
    parse_duration,
    parse_since,
    percentile,
    render_text,
    summarise,
)
from tests.report_support import BASE, ecs_event, ecs_flat, logstash_event, shipper_metric


def pairs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(json.dumps(doc), doc) for doc in docs]


@pytest.mark.parametrize(
    ("doc", "path", "expected"),
    [
        ({"http": {"response": {"status_code": 503}}}, "http.response.status_code", 503),
        ({"http.response.status_code": 503}, "http.response.status_code", 503),
        ({"http": {"response.status_code": 503}}, "http.response.status_code", 503),
        ({"log.level": "info", "log": {"logger": "x"}}, "log.level", "info"),
        ({"log.level": "info", "log": {"logger": "x"}}, "log.logger", "x"),
        ({"http": {"response": {}}}, "http.response.status_code", None),
        ({"http": "not an object"}, "http.response.status_code", None),
        ({}, "@timestamp", None),
    ],
)
def test_lookup_reads_nested_flat_and_mixed_documents(
    doc: dict[str, Any], path: str, expected: object
) -> None:
    assert lookup(doc, path) == expected


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


@pytest.mark.parametrize("shape", ["ecs", "ecs-flat", "logstash"])
def test_event_from_doc_reads_every_shape(shape: str) -> None:
    kwargs: dict[str, Any] = {
        "at": 61.5,
        "status": 502,
        "route": "api/boom/",
        "ms": 12.5,
        "user": "alice",
        "ip": "2001:db8::1",
        "slow": True,
    }
    if shape == "logstash":
        doc = logstash_event(**kwargs)
    else:
        doc = ecs_event(**kwargs)
        if shape == "ecs-flat":
            doc = ecs_flat(doc)
    event = event_from_doc(doc)
    assert event is not None
    assert event.status == 502
    assert event.route == "api/boom/"
    assert event.duration_ms == pytest.approx(12.5)
    assert event.user == "alice"
    assert event.client_ip == "2001:db8::1"
    assert event.slow is True
    assert event.timestamp == BASE + dt.timedelta(seconds=61.5)


@pytest.mark.parametrize(
    "doc",
    [
        shipper_metric(),
        {"@timestamp": "2026-03-01T12:00:00Z", "message": "an ordinary log line"},
        {"ecs": {"version": "8.11.0"}, "message": "no http fields"},
        {"status": "not a number", "@version": "1"},
    ],
)
def test_non_request_documents_are_not_counted_as_requests(doc: dict[str, Any]) -> None:
    assert event_from_doc(doc) is None


def test_route_falls_back_to_path_then_unknown() -> None:
    with_path = event_from_doc(ecs_event(route=None, path="/raw/"))
    assert with_path is not None and with_path.route == "/raw/"
    bare = ecs_event(route=None)
    del bare["url"]
    event = event_from_doc(bare)
    assert event is not None and event.route == "(unknown)"


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([10.0], 50, 10.0),
        ([10.0], 95, 10.0),
        ([10.0, 20.0, 30.0, 40.0], 50, 20.0),
        ([10.0, 20.0, 30.0, 40.0], 95, 40.0),
        ([float(n) for n in range(1, 101)], 95, 95.0),
        ([float(n) for n in range(1, 101)], 50, 50.0),
    ],
)
def test_percentile_is_nearest_rank(values: list[float], pct: float, expected: float) -> None:
    assert percentile(values, pct) == expected


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=200))
def test_percentile_brackets_the_data(values: list[float]) -> None:
    ordered = sorted(values)
    p50, p95 = percentile(ordered, 50), percentile(ordered, 95)
    assert ordered[0] <= p50 <= p95 <= ordered[-1]
    # Nearest rank: at least pct% of the values are <= the answer.
    assert sum(v <= p95 for v in ordered) >= math.ceil(0.95 * len(ordered))


def test_summary_numbers_match_the_events() -> None:
    rng = random.Random(7)
    docs: list[dict[str, Any]] = []
    durations: dict[str, list[float]] = {"api/items/": [], "api/boom/": []}
    for second in range(0, 180, 3):
        ms = round(rng.uniform(1, 300), 3)
        durations["api/items/"].append(ms)
        docs.append(ecs_event(at=second, ms=ms, user="demo" if second % 2 else None))
    # A burst of 5xx inside the third minute.
    for offset in range(12):
        ms = round(rng.uniform(1, 50), 3)
        durations["api/boom/"].append(ms)
        docs.append(ecs_event(at=125 + offset, status=500, route="api/boom/", ms=ms, ip="10.0.0.9"))
    docs.append(ecs_event(at=10, status=404, ms=None, ip=None))
    docs.append(shipper_metric(at=50))

    summary = summarise(pairs(docs), sources=["test"])

    requests = [d for d in docs if "http" in d]
    assert summary.total_requests == len(requests)
    assert summary.other_documents == 1
    assert summary.status_classes == {"2xx": 60, "4xx": 1, "5xx": 12}
    assert summary.statuses == {"200": 60, "404": 1, "500": 12}
    # Minute buckets: the burst lands in the third one only.
    assert [row["errors_5xx"] for row in summary.timeline] == [0, 0, 12]
    assert [row["requests"] for row in summary.timeline] == [21, 20, 32]
    assert summary.timeline[2]["errors_5xx_per_minute"] == 12
    routes = {row["route"]: row for row in summary.routes}
    for route, values in durations.items():
        ordered = sorted(values)
        assert routes[route]["p50_ms"] == pytest.approx(ordered[math.ceil(len(ordered) / 2) - 1])
        assert routes[route]["p95_ms"] == pytest.approx(ordered[math.ceil(0.95 * len(ordered)) - 1])
        assert routes[route]["max_ms"] == pytest.approx(max(values))
        # Cross-check against the standard library on the same data.
        assert min(values) <= routes[route]["p50_ms"] <= max(values)
        assert abs(routes[route]["p50_ms"] - statistics.median(values)) <= (
            max(values) - min(values)
        )
    assert routes["api/items/"]["requests"] == 61  # 60 timed + the 404 without duration
    assert routes["api/boom/"]["errors_5xx"] == 12
    assert summary.top_users[0] == ("(anonymous)", 43)
    assert ("demo", 30) in summary.top_users
    assert summary.top_client_ips[0] == ("203.0.113.5", 60)
    assert ("10.0.0.9", 12) in summary.top_client_ips


def test_bucket_width_and_empty_buckets_in_between() -> None:
    docs = [ecs_event(at=0), ecs_event(at=1, status=500), ecs_event(at=31, status=503)]
    summary = summarise(pairs(docs), sources=["t"], bucket=dt.timedelta(seconds=10))
    assert [row["requests"] for row in summary.timeline] == [2, 0, 0, 1]
    assert [row["errors_5xx"] for row in summary.timeline] == [1, 0, 0, 1]
    assert summary.timeline[0]["errors_5xx_per_minute"] == 6.0
    assert summary.timeline[0]["error_rate"] == 0.5


def test_since_filters_events_and_masking_counts() -> None:
    docs = [
        ecs_event(at=0, extra={"note": REDACTED}),
        ecs_event(at=600, extra={"note": f"{REDACTED} {REDACTED}"}),
    ]
    summary = summarise(pairs(docs), sources=["t"], since=BASE + dt.timedelta(minutes=5))
    assert summary.total_requests == 1
    assert summary.redacted_count == 2
    assert summary.since == (BASE + dt.timedelta(minutes=5)).isoformat()


@pytest.mark.parametrize(
    "stored",
    [
        "s3cr3t-V@lue/+ü",  # as-is
        json.dumps("s3cr3t-V@lue/+ü")[1:-1],  # JSON-escaped (\u00fc)
        "s3cr3t-V%40lue%2F%2B%C3%BC",  # URL-encoded
    ],
)
def test_secret_hits_count_plain_escaped_and_url_encoded_forms(stored: str) -> None:
    secret = "s3cr3t-V@lue/+ü"
    raw = '{"message": "x", "url": {"query": "q=' + stored + '"}}'
    summary = summarise([(raw, json.loads(raw))], sources=["t"], secrets=[secret, "absent-value"])
    assert [item["plaintext_hits"] for item in summary.secrets] == [1, 0]


def test_text_report_never_prints_the_secret_and_shows_every_section() -> None:
    secret = "planted-password-123"
    docs = [ecs_event(at=s, status=500 if s > 5 else 200) for s in range(10)]
    raw_docs = [(json.dumps(d), d) for d in docs]
    raw_docs.append((f'{{"leak": "{secret}"}}', {"leak": secret}))
    summary = summarise(raw_docs, sources=["/tmp/x.json"], secrets=[secret])
    out = io.StringIO()
    render_text(summary, lambda line: out.write(line + "\n"))
    text = out.getvalue()
    assert secret not in text
    for section in (
        "Requests by status class",
        "Error rate over time",
        "Latency per route",
        "Top users",
        "Top client IPs",
        "Masking proof",
        "Sending the same events to Elasticsearch or Logstash",
        "Source: /tmp/x.json",
    ):
        assert section in text
    assert "secret #1 (20 chars): 1 plaintext hit(s)  LEAKED" in text
    assert summary.secret_hits == 1


def test_as_dict_is_json_serialisable() -> None:
    summary = summarise(pairs([ecs_event(), logstash_event(status=404)]), sources=["t"])
    data = json.loads(json.dumps(summary.as_dict()))
    assert data["total_requests"] == 2
    assert data["status_classes"] == {"2xx": 1, "4xx": 1}
    assert data["masking"]["plaintext_hits"] == 0


def test_iter_file_lines_counts_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    good = json.dumps(ecs_event())
    path.write_bytes(
        b"\n".join(
            [
                good.encode(),
                b"",  # blank lines are not errors
                b"{not json",
                b"[1, 2]",
                b"\xff\xfe not utf-8",
                good.encode(),
            ]
        )
        + b"\n"
    )
    bad = BadLines()
    docs = list(iter_file_lines(str(path), bad, progress=False))
    assert len(docs) == 2
    assert bad.count == 3
    assert [entry.split(": ", 1)[0] for entry in bad.first] == [
        f"{path}:3",
        f"{path}:4",
        f"{path}:5",
    ]
    assert "not JSON" in bad.first[0]
    assert "not an object" in bad.first[1]
    assert "not UTF-8" in bad.first[2]


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_iter_file_lines_reports_unusable_paths(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "nope.json" if kind == "missing" else tmp_path
    with pytest.raises(ReportError, match="not found" if kind == "missing" else "directory"):
        list(iter_file_lines(str(path), BadLines(), progress=False))


def test_progress_indicator_goes_to_the_given_stream(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text("\n".join(json.dumps(ecs_event(at=n)) for n in range(50)) + "\n")
    stream = io.StringIO()
    docs = list(iter_file_lines(str(path), BadLines(), progress=True, stream=stream))
    assert len(docs) == 50
    shown = stream.getvalue()
    assert "reading" in shown
    assert "100.0% (50 lines)" in shown
    assert shown.endswith("\n")


def test_no_progress_for_small_files_off_a_terminal(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text(json.dumps(ecs_event()) + "\n")
    stream = io.StringIO()  # not a TTY
    list(iter_file_lines(str(path), BadLines(), progress=None, stream=stream))
    assert stream.getvalue() == ""


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_one_line_on_a_terminal(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text("\n".join(json.dumps(ecs_event(at=n)) for n in range(10)) + "\n")
    stream = FakeTerminal()
    list(iter_file_lines(str(path), BadLines(), progress=True, stream=stream))
    shown = stream.getvalue()
    assert shown.startswith("\r")
    assert shown.count("\n") == 1
    assert shown.endswith("100.0% (10 lines)\n")


def test_large_files_get_progress_lines_off_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.json"
    path.write_text("\n".join(json.dumps(ecs_event(at=n)) for n in range(10)) + "\n")
    monkeypatch.setattr("django_reqlog.report.LARGE_FILE_BYTES", path.stat().st_size)
    stream = io.StringIO()
    list(iter_file_lines(str(path), BadLines(), progress=None, stream=stream))
    lines = stream.getvalue().splitlines()
    # Plain lines (no carriage returns) for logs and pipes, ending at 100 %.
    assert "\r" not in stream.getvalue()
    assert lines[-1].endswith("100.0% (10 lines)")


def test_lines_only_the_stdlib_parser_accepts_are_still_read(tmp_path: Path) -> None:
    # orjson (used when installed) rejects NaN; such a line is not "bad".
    path = tmp_path / "events.json"
    doc = ecs_event(status=500)
    path.write_text(json.dumps(doc)[:-1] + ', "score": NaN}\n')
    bad = BadLines()
    docs = list(iter_file_lines(str(path), bad, progress=False))
    assert bad.count == 0
    assert math.isnan(docs[0][1]["score"])


def test_counts_the_same_placeholder_the_redaction_writes() -> None:
    from django_reqlog import masking

    assert REDACTED == masking.REDACTED
