"""The demo with REQLOG_ELASTICSEARCH_URL set: reqlog_setup, shipping, report from the cluster."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.demo import demo_env, planted_secrets

pytestmark = [pytest.mark.es, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "example_project" / "demo.py"


def test_demo_ships_to_elasticsearch_and_reports_from_it(
    tmp_path: Path, es_settings: dict[str, str], es_client: Any
) -> None:
    planted = planted_secrets("Es")
    env = demo_env(**planted)
    env["REQLOG_ELASTICSEARCH_URL"] = es_settings["url"]
    env["REQLOG_ELASTICSEARCH_USERNAME"] = es_settings["username"]
    env["REQLOG_ELASTICSEARCH_PASSWORD"] = es_settings["password"]
    if es_settings["ca_certs"]:
        env["REQLOG_ELASTICSEARCH_CA_CERTS"] = es_settings["ca_certs"]
    started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    proc = subprocess.run(
        [sys.executable, str(DEMO), "--var-dir", str(tmp_path / "var")],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    assert "events go to: elasticsearch" in proc.stdout
    assert "Write target:" in proc.stdout  # reqlog_setup ran first
    assert "/app/dashboards#/view/reqlog-dashboard-requests" in proc.stdout
    assert "Source: Elasticsearch" in proc.stdout
    # No local ECS file in this mode: the events went to the cluster.
    assert not (tmp_path / "var" / "reqlog.ecs.json").exists()
    for value in [*planted.values(), es_settings["password"]]:
        assert value not in output

    target = re.search(r"^\s*Write target: (\S+)", proc.stdout, flags=re.MULTILINE)
    assert target is not None
    es_client.indices.refresh(index=target.group(1))
    shipped = es_client.count(
        index=target.group(1),
        query={
            "bool": {
                "filter": [
                    {"range": {"@timestamp": {"gte": started.isoformat()}}},
                    {"prefix": {"http.request.id": "demo-"}},
                ]
            }
        },
    )["count"]
    reported = re.search(r"^Requests: (\d+)", proc.stdout, flags=re.MULTILINE)
    assert reported is not None
    assert shipped == int(reported.group(1)) > 100
