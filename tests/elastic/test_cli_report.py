"""``manage.py reqlog_report``: formats, options and error cases, from files and
from the real test-bed node."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections import Counter
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from tests.elastic.report_support import ecs_event, ecs_flat, load, logstash_event, shipper_metric

REPO = Path(__file__).resolve().parents[2]


def write_lines(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(doc) + "\n" for doc in docs), encoding="utf-8")
    return path


def run_report(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("reqlog_report", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def report_json(*args: str) -> dict[str, Any]:
    out, _err = run_report(*args, "--format", "json")
    data: dict[str, Any] = json.loads(out)
    return data


def sample_docs(maker: Any) -> list[dict[str, Any]]:
    docs = [maker(at=n, user="alice" if n % 3 == 0 else None) for n in range(20)]
    docs += [maker(at=30 + n, status=500, route="api/boom/") for n in range(5)]
    docs += [maker(at=40, status=404, route=None, path="/nope")]
    return docs


@pytest.mark.parametrize(
    "maker",
    [ecs_event, lambda **kw: ecs_flat(ecs_event(**kw)), logstash_event],
    ids=["ecs-nested", "ecs-dotted", "logstash-v1"],
)
def test_reads_each_line_format(tmp_path: Path, maker: Any) -> None:
    path = write_lines(tmp_path / "events.json", sample_docs(maker))
    data = report_json("--file", str(path))
    assert data["total_requests"] == 26
    assert data["status_classes"] == {"2xx": 20, "4xx": 1, "5xx": 5}
    assert data["top_users"][0] == ["(anonymous)", 19]
    assert ["alice", 7] in data["top_users"]
    assert {row["route"] for row in data["routes"]} == {"api/items/", "api/boom/", "/nope"}
    assert data["bad_lines"] == 0


def test_real_formatter_output_round_trips(tmp_path: Path, capture: Any, db: None) -> None:
    """Lines written by the real ECSFormatter and LogstashFormatter give the same report."""
    client = Client()
    expected: Counter[int] = Counter()
    for path, status in [("/hello/", 200)] * 4 + [("/missing/", 404)] * 2:
        assert client.get(path).status_code == status
        expected[status] += 1
    client.raise_request_exception = False
    for _ in range(3):
        assert client.get("/boom/").status_code == 500
        expected[500] += 1
    ecs_path = tmp_path / "ecs.json"
    ecs_path.write_text("\n".join(capture.ecs_lines()) + "\n", encoding="utf-8")
    logstash_path = tmp_path / "logstash.json"
    logstash_path.write_text("\n".join(capture.logstash_lines()) + "\n", encoding="utf-8")

    from_ecs = report_json("--file", str(ecs_path))
    from_logstash = report_json("--file", str(logstash_path))

    assert from_ecs["statuses"] == {str(code): n for code, n in sorted(expected.items())}
    for key in ("total_requests", "status_classes", "statuses", "top_client_ips"):
        assert from_logstash[key] == from_ecs[key], key
    ecs_routes = {row["route"]: row["requests"] for row in from_ecs["routes"]}
    logstash_routes = {row["route"]: row["requests"] for row in from_logstash["routes"]}
    assert ecs_routes == logstash_routes
    assert all(row["p50_ms"] is not None for row in from_ecs["routes"])


def test_text_report_sections_and_files(tmp_path: Path) -> None:
    first = write_lines(tmp_path / "a.json", sample_docs(ecs_event))
    second = write_lines(tmp_path / "b.json", [ecs_event(at=50, status=201)])
    out, err = run_report("--file", str(first), "--file", str(second), "--top", "2")
    assert f"Source: {first}" in out
    assert f"Source: {second}" in out
    assert "Requests: 27" in out
    assert "p95" in out
    assert "Masking proof" in out
    assert err == ""


def test_route_table_is_cut_at_routes(tmp_path: Path) -> None:
    # Scanners hitting unmatched paths: one "route" per path.
    docs = [ecs_event(route=None, path=f"/probe-{n}.php", status=404) for n in range(30)]
    docs += [ecs_event() for _ in range(5)]
    path = write_lines(tmp_path / "a.json", docs)
    out, _ = run_report("--file", str(path), "--routes", "3")
    table = out.split("Latency per route (ms)", 1)[1].split("\n\n", 1)[0]
    assert "api/items/" in table  # the busiest comes first
    assert table.count("/probe-") == 2
    assert "... 28 more route(s) with 28 request(s)" in table
    assert len(report_json("--file", str(path))["routes"]) == 31


def test_no_hints_leaves_out_the_shipping_section(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "a.json", [ecs_event()])
    with_hints, _ = run_report("--file", str(path))
    without, _ = run_report("--file", str(path), "--no-hints")
    assert "ElasticsearchHandler" in with_hints
    assert "ElasticsearchHandler" not in without


def test_other_documents_are_counted_apart(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "a.json", [ecs_event(), shipper_metric(), {"message": "plain log line"}]
    )
    data = report_json("--file", str(path))
    assert data["total_requests"] == 1
    assert data["other_documents"] == 2


def test_bad_lines_are_skipped_with_a_count(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_bytes(
        json.dumps(ecs_event()).encode()
        + b"\n{truncated by a crash\n\xff\xff\n"
        + json.dumps(ecs_event(status=500)).encode()
        + b"\n"
    )
    out, err = run_report("--file", str(path))
    assert "Skipped 2 unreadable line(s)" in out
    assert f"{path}:2: not JSON" in out
    assert f"{path}:3: not UTF-8" in out
    assert "Requests: 2" in out
    assert "skipped 2 unreadable line(s)" in err


def test_since_window(tmp_path: Path) -> None:
    docs = [ecs_event(at=0), ecs_event(at=3600), ecs_event(at=7200)]
    path = write_lines(tmp_path / "a.json", docs)
    data = report_json("--file", str(path), "--since", "2026-03-01T12:30:00Z")
    assert data["total_requests"] == 2
    # A relative window counts back from now: 1h excludes these March events,
    # 5000 weeks reaches back past all of them.
    assert report_json("--file", str(path), "--since", "1h")["total_requests"] == 0
    assert report_json("--file", str(path), "--since", "5000w")["total_requests"] == 3


def test_secret_hit_fails_the_command_without_printing_it(tmp_path: Path) -> None:
    secret = "Tr0ub4dor-planted"
    doc = ecs_event(extra={"url": {"path": "/", "query": f"password={secret}"}})
    path = write_lines(tmp_path / "a.json", [doc, ecs_event()])
    out = StringIO()
    with pytest.raises(CommandError, match="1 plaintext occurrence"):
        call_command("reqlog_report", "--file", str(path), "--secret", secret, stdout=out)
    assert secret not in out.getvalue()
    assert "LEAKED" in out.getvalue()


def test_masked_secret_passes(tmp_path: Path) -> None:
    doc = ecs_event(extra={"url": {"path": "/", "query": "password=[REDACTED]"}})
    path = write_lines(tmp_path / "a.json", [doc])
    data = report_json("--file", str(path), "--secret", "Tr0ub4dor-planted")
    assert data["masking"] == {
        "redacted_count": 1,
        "secrets": [{"secret": "secret #1", "length": 17, "plaintext_hits": 0}],
        "plaintext_hits": 0,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "either --file PATH"),
        (["--file", "x.json", "--elasticsearch"], "either --file PATH"),
        (["--file", "/definitely/not/here.json"], "log file not found: /definitely/not/here.json"),
        (["--file", "{tmp}"], "is a directory"),
        (["--file", "{tmp}/a.json", "--since", "last tuesday"], "neither a duration"),
        (["--file", "{tmp}/a.json", "--bucket", "often"], "--bucket"),
        (["--file", "{tmp}/a.json", "--top", "0"], "--top"),
        (["--file", "{tmp}/a.json", "--routes", "0"], "--routes"),
        (["--file", "{tmp}/a.json", "--page-size", "0"], "--page-size"),
    ],
)
def test_usage_errors_are_clear(tmp_path: Path, args: list[str], message: str) -> None:
    write_lines(tmp_path / "a.json", [ecs_event()])
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        run_report(*args)


def test_missing_second_file_fails_before_reading(tmp_path: Path) -> None:
    good = write_lines(tmp_path / "a.json", [ecs_event()])
    with pytest.raises(CommandError, match=r"not found: .*missing\.json"):
        run_report("--file", str(good), "--file", str(tmp_path / "missing.json"))


def test_elasticsearch_needs_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQLOG_ELASTICSEARCH_URL", raising=False)
    with pytest.raises(CommandError, match="REQLOG_ELASTICSEARCH_URL"):
        run_report("--elasticsearch")


def test_unreachable_cluster_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port once the socket is closed.
    monkeypatch.setenv("REQLOG_ELASTICSEARCH_URL", f"http://user:hunter2@127.0.0.1:{port}")
    with pytest.raises(
        CommandError, match=rf"^Elasticsearch at http://127\.0\.0\.1:{port} \(.*\) is unreachable"
    ) as caught:
        run_report("--elasticsearch")
    assert "hunter2" not in str(caught.value)


def test_exit_status_and_stderr_from_a_real_process(tmp_path: Path) -> None:
    """What a shell user sees: exit 1 and a one-line error on stderr."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "django", "reqlog_report", "--file", str(tmp_path / "none.json")],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1
    assert "log file not found" in proc.stderr
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------- from the real node


def report(*args: str) -> dict[str, Any]:
    out = StringIO()
    call_command("reqlog_report", "--elasticsearch", *args, "--format", "json", stdout=out)
    data: dict[str, Any] = json.loads(out.getvalue())
    return data


def test_reads_every_document_across_pages(es_env: Any, es_client: Any, index: str) -> None:
    docs = [ecs_event(at=n, status=200 if n % 10 else 503) for n in range(250)]
    docs.append(shipper_metric(at=5))
    load(es_client, index, docs)
    # A page size below the document count exercises search_after paging.
    data = report("--index", index, "--page-size", "100")
    assert data["total_requests"] == 250
    assert data["other_documents"] == 1
    assert data["status_classes"] == {"2xx": 225, "5xx": 25}
    assert data["sources"] == [f"Elasticsearch {es_env['url']} index {index}"]


def test_since_window_is_applied_by_the_query(es_env: Any, es_client: Any, index: str) -> None:
    load(es_client, index, [ecs_event(at=0), ecs_event(at=3600), ecs_event(at=7200)])
    data = report("--index", index, "--since", "2026-03-01T12:30:00Z")
    assert data["total_requests"] == 2


def test_secret_in_a_document_fails_the_report(es_env: Any, es_client: Any, index: str) -> None:
    secret = f"planted-{uuid.uuid4().hex}"
    load(es_client, index, [ecs_event(extra={"url": {"path": "/", "query": f"k={secret}"}})])
    out = StringIO()
    with pytest.raises(CommandError, match="plaintext occurrence"):
        call_command(
            "reqlog_report", "--elasticsearch", "--index", index, "--secret", secret, stdout=out
        )
    assert secret not in out.getvalue()


def test_missing_index_is_a_clear_error(es_env: Any, es_client: Any) -> None:
    with pytest.raises(CommandError, match="not found"):
        report("--index", f"reqlog-nothing-{uuid.uuid4().hex[:8]}")


def test_wrong_password_is_a_clear_error(
    es_env: Any, es_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQLOG_ELASTICSEARCH_USERNAME", "nobody")
    monkeypatch.setenv("REQLOG_ELASTICSEARCH_PASSWORD", "wrong-password")
    with pytest.raises(CommandError, match="rejected the credentials"):
        report("--index", "whatever")
