"""End to end: example_project/demo.py with gunicorn, real traffic and the report.

The demo checks itself; these tests check the demo, from the outside: its
report against the events in the log file, and every output for the secrets
this test plants.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from django_reqlog.elastic.report.fields import lookup
from tests.helpers.demo import demo_env, planted_secrets

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "example_project" / "demo.py"


@dataclass
class DemoRun:
    proc: subprocess.CompletedProcess[str]
    var: Path
    planted: dict[str, str] = field(repr=False)  # kept out of failure output
    seconds: float = 0.0

    @property
    def events(self) -> list[dict[str, Any]]:
        lines = (self.var / "reqlog.ecs.json").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    @property
    def requests(self) -> list[dict[str, Any]]:
        return [e for e in self.events if lookup(e, "http.response.status_code") is not None]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    var = tmp_path_factory.mktemp("demo-var")
    planted = planted_secrets("Test")
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(DEMO), "--var-dir", str(var)],
        env=demo_env(**planted),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return DemoRun(proc, var, planted, time.monotonic() - started)


def test_demo_passes_within_two_minutes(demo: DemoRun) -> None:
    assert demo.proc.returncode == 0, demo.proc.stdout[-3000:] + demo.proc.stderr[-3000:]
    assert "Demo OK" in demo.proc.stdout
    assert "[FAIL]" not in demo.proc.stdout
    assert demo.seconds < 120


def test_report_is_printed_and_saved(demo: DemoRun) -> None:
    saved = (demo.var / "report.txt").read_text(encoding="utf-8")
    assert saved.strip() in demo.proc.stdout
    for section in (
        "Requests by status class",
        "Error rate over time",
        "Latency per route",
        "Top users",
        "Top client IPs",
        "Masking proof",
        "Sending the same events to Elasticsearch or Logstash",
    ):
        assert section in saved
    assert f"ECS JSON lines: {demo.var / 'reqlog.ecs.json'}" in demo.proc.stdout


def table_rows(report: str, heading: str) -> list[list[str]]:
    """The whitespace-split rows under ``heading`` up to the next blank line."""
    block = report.split(heading, 1)[1].split("\n\n", 1)[0]
    return [line.split() for line in block.splitlines()[2:] if line.startswith("  ")]


def test_status_classes_match_the_events(demo: DemoRun) -> None:
    report = (demo.var / "report.txt").read_text(encoding="utf-8")
    events = demo.requests
    by_class = Counter(f"{lookup(e, 'http.response.status_code') // 100}xx" for e in events)
    assert f"Requests: {len(events)}" in report
    rows = table_rows(report, "Requests by status class")
    shown = {row[0]: int(row[1]) for row in rows if re.fullmatch(r"\dxx", row[0])}
    assert shown == dict(by_class)
    # The scripted mix has every class the demo promises.
    assert set(by_class) == {"2xx", "4xx", "5xx"}


def test_latency_percentiles_match_the_events(demo: DemoRun) -> None:
    report = (demo.var / "report.txt").read_text(encoding="utf-8")
    durations: dict[str, list[float]] = {}
    for event in demo.requests:
        route = lookup(event, "reqlog.route") or lookup(event, "url.path")
        durations.setdefault(route, []).append(lookup(event, "event.duration") / 1e6)
    rows = {
        row[0]: row for row in table_rows(report, "Latency per route (ms)")[1:] if len(row) == 6
    }
    checked = 0
    for route, values in durations.items():
        if route not in rows:
            continue  # very long routes are cut in the table
        ordered = sorted(values)
        p50 = ordered[math.ceil(0.5 * len(ordered)) - 1]
        p95 = ordered[math.ceil(0.95 * len(ordered)) - 1]
        _route, count, _errors, shown_p50, shown_p95, _max = rows[route]
        assert int(count) == len(values)
        assert float(shown_p50.replace(",", "")) == pytest.approx(p50, abs=0.051)
        assert float(shown_p95.replace(",", "")) == pytest.approx(p95, abs=0.051)
        checked += 1
    assert checked >= 8


def test_error_burst_shows_in_the_timeline(demo: DemoRun) -> None:
    report = (demo.var / "report.txt").read_text(encoding="utf-8")
    rows = [row for row in table_rows(report, "Error rate over time") if row[0][:2] == "20"]
    # Columns: date, time, requests, 4xx, 5xx, 5xx %, 5xx/min.
    five_xx = [int(row[4]) for row in rows]
    total_5xx = sum(1 for e in demo.requests if lookup(e, "http.response.status_code") >= 500)
    assert sum(five_xx) == total_5xx
    assert sum(int(row[2]) for row in rows) == len(demo.requests)
    # A burst: most 5xx land in one bucket, and there are quiet buckets around it.
    assert max(five_xx) >= total_5xx / 2
    assert five_xx.count(0) >= 2


def test_no_planted_secret_in_any_output_or_log_file(demo: DemoRun) -> None:
    outputs = {"demo stdout": demo.proc.stdout, "demo stderr": demo.proc.stderr}
    for path in demo.var.rglob("*"):
        if path.is_file() and not path.name.startswith("db.sqlite3"):
            outputs[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    assert any(name.endswith("reqlog.ecs.json") for name in outputs)
    assert any(name.endswith("server.log") for name in outputs)
    leaks = [
        f"{var} in {where}"
        for where, text in outputs.items()
        for var, value in demo.planted.items()
        if value in text
    ]
    assert leaks == []
    # The secrets were really used: the database holds the planted token
    # (DRF compares against it), so a clean log is not a vacuous result.
    database = (demo.var / "db.sqlite3").read_bytes()
    assert demo.planted["REQLOG_DEMO_TOKEN"].encode() in database


def test_secrets_were_masked_where_they_travelled(demo: DemoRun) -> None:
    events = demo.requests
    logins = [e for e in events if lookup(e, "url.path") == "/api/login/"]
    assert logins
    for event in logins:
        body = lookup(event, "http.request.body.content") or ""
        assert "password" in body
        assert "[REDACTED]" in body
    with_token = [
        e for e in events if lookup(e, "reqlog.request.headers.authorization") is not None
    ]
    assert with_token
    assert all(
        lookup(e, "reqlog.request.headers.authorization") == "[REDACTED]" for e in with_token
    )
    in_query = [e for e in events if "api_key=" in (lookup(e, "url.query") or "")]
    assert in_query
    assert all("api_key=[REDACTED]" in lookup(e, "url.query") for e in in_query)


def test_spoofed_forwarded_for_never_becomes_the_client_ip(demo: DemoRun) -> None:
    events = demo.requests
    spoofed = [e for e in events if "6.6.6.6" in (lookup(e, "reqlog.proxy_chain") or [])]
    assert len(spoofed) == 8
    assert {lookup(e, "client.ip") for e in spoofed} == {"203.0.113.66"}
    assert all(lookup(e, "client.ip") != "6.6.6.6" for e in events)


def test_one_console_line_per_request(demo: DemoRun) -> None:
    console = (demo.var / "server.log").read_text(encoding="utf-8")
    ids = re.findall(r" id=(demo-\d+)$", console, flags=re.MULTILINE)
    logged = [lookup(e, "http.request.id") for e in demo.requests]
    assert sorted(ids) == sorted(logged)
    assert len(set(ids)) == len(ids)


def test_probe_path_is_skipped(demo: DemoRun) -> None:
    # gunicorn readiness probes hit /health/live, which the example skips.
    assert all(lookup(e, "url.path") != "/health/live" for e in demo.requests)
    assert any(lookup(e, "url.path") == "/health/" for e in demo.requests)


def test_custom_fields_and_a_skipped_view(demo: DemoRun) -> None:
    """make demo shows django_reqlog.bind() (labels.*) and @django_reqlog.skip."""
    assert all(lookup(e, "url.path") != "/api/ping/" for e in demo.requests)
    details = [e for e in demo.requests if lookup(e, "url.path") == "/api/items/1/"]
    assert details
    assert all(lookup(e, "labels") == {"tenant": "acme", "action": "retrieve"} for e in details)
    listed = [e for e in demo.requests if lookup(e, "reqlog.route") == "api/items/"]
    assert {lookup(e, "labels.tenant") for e in listed} == {"public"}
    assert all(lookup(e, "reqlog.db.queries") >= 1 for e in details)
    assert "GET /api/ping/ (@django_reqlog.skip): 18 requests, no event" in demo.proc.stdout
    assert "[PASS] @django_reqlog.skip view left no event" in demo.proc.stdout
    assert "[PASS] django_reqlog.bind() fields in the events (labels.*)" in demo.proc.stdout
