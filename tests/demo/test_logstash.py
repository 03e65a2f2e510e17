"""The demo with REQLOG_LOGSTASH_HOST set: events go to a Logstash json_lines TCP input.

A loopback receiver stands in for Logstash's tcp input (it only reads lines;
the Logstash pipeline itself is covered by the stack tests). The demo keeps a
local ECS copy in this mode, so both sides can be compared.
"""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.helpers.demo import demo_env, planted_secrets
from tests.helpers.shipping import TCPReceiver
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "example_project" / "demo.py"


def test_demo_ships_logstash_lines(tmp_path: Path) -> None:
    receiver = TCPReceiver().start()
    planted = planted_secrets("Ls")
    env = demo_env(**planted)
    env["REQLOG_LOGSTASH_HOST"] = "127.0.0.1"
    env["REQLOG_LOGSTASH_PORT"] = str(receiver.port)
    var = tmp_path / "var"
    try:
        proc = subprocess.run(
            [sys.executable, str(DEMO), "--var-dir", str(var)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        local = [
            json.loads(line)
            for line in (var / "reqlog.ecs.json").read_text(encoding="utf-8").splitlines()
        ]
        # Workers flush on exit, but the receiver thread may still be reading.
        wait_for(lambda: len(receiver.lines) >= sum("http" in d for d in local), timeout=10)
    finally:
        receiver.stop()
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    assert "events go to: logstash + file" in proc.stdout
    assert f"events also shipped to 127.0.0.1:{receiver.port}" in proc.stdout

    shipped_raw = b"\n".join(receiver.lines).decode("utf-8")
    for value in planted.values():
        assert value not in shipped_raw
    shipped = receiver.events()
    assert {doc["@version"] for doc in shipped} == {"1"}
    local_ids = sorted(doc["http"]["request"]["id"] for doc in local if "http" in doc)
    shipped_ids = sorted(doc["request_id"] for doc in shipped if "status" in doc)
    assert shipped_ids == local_ids

    # The report reads the Logstash lines too and agrees with the ECS copy.
    lines = tmp_path / "logstash.json"
    lines.write_text(shipped_raw + "\n", encoding="utf-8")
    reports = []
    for path in (lines, var / "reqlog.ecs.json"):
        out = StringIO()
        call_command("reqlog_report", "--file", str(path), "--format", "json", stdout=out)
        reports.append(json.loads(out.getvalue()))
    for key in ("total_requests", "status_classes", "statuses", "top_users", "top_client_ips"):
        assert reports[0][key] == reports[1][key], key
