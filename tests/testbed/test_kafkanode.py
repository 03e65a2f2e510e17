"""kafkanode.py's contract when no broker can be had (the happy path is every
`kafka`-marked test, which runs under `kafkanode.py run`)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.helpers.script_modules import load_module
from tests.helpers.testbed_runs import env_without, run_one_test, run_python

KAFKANODE = Path(__file__).resolve().parent / "kafkanode.py"


def run_kafkanode(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A version Maven Central does not have: the fetch must fail cleanly.
    env = env_without(
        "REQLOG_TEST_KAFKA_",
        REQLOG_KAFKA_VERSION="0.0.1",
        REQLOG_KAFKA_CACHE_DIR=str(tmp_path / "cache"),
    )
    return run_python([str(KAFKANODE), *args], env)


PROBE = "import os, sys; sys.exit(41 if 'REQLOG_TEST_KAFKA_BOOTSTRAP' in os.environ else 7)"


@pytest.mark.slow
def test_optional_runs_the_command_without_a_broker(tmp_path: Path) -> None:
    result = run_kafkanode(tmp_path, "run", "--optional", "--", sys.executable, "-c", PROBE)
    assert result.returncode == 7, result.stderr
    assert "no Kafka (mvn could not fetch Kafka 0.0.1" in result.stderr
    assert "running without it" in result.stderr


@pytest.mark.slow
def test_required_broker_missing_is_an_error(tmp_path: Path) -> None:
    result = run_kafkanode(tmp_path, "run", "--", sys.executable, "-c", PROBE)
    assert result.returncode == 3
    assert "could not start Kafka: mvn could not fetch Kafka 0.0.1" in result.stderr


def test_run_needs_a_command(tmp_path: Path) -> None:
    assert run_kafkanode(tmp_path, "run").returncode == 2


def test_env_and_stop_without_a_started_broker(tmp_path: Path) -> None:
    result = run_kafkanode(tmp_path, "env")
    assert result.returncode == 1
    assert "no broker running; use `kafkanode.py start`" in result.stderr
    result = run_kafkanode(tmp_path, "stop")
    assert result.returncode == 0
    assert "no broker started with `kafkanode.py start`" in result.stderr


@pytest.mark.parametrize(("required", "outcome"), [("", "1 skipped"), ("1", "1 error")])
def test_kafka_tests_skip_or_fail_without_a_broker(required: str, outcome: str) -> None:
    result = run_one_test(
        "tests/handlers/test_kafka.py::test_each_request_arrives_once_keyed_by_its_event_id",
        env_without("REQLOG_TEST_KAFKA_", REQLOG_TEST_KAFKA_REQUIRED=required),
    )
    assert outcome in result.stdout, result.stdout[-2000:]
    if required:
        assert "REQLOG_TEST_KAFKA_REQUIRED=1 but no Kafka broker" in result.stdout


def test_cluster_ids_never_start_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """``kafka-storage format --cluster-id -x...`` reads the id as an option."""
    kafkanode = load_module(KAFKANODE, "reqlog_kafkanode_ids")
    dash_first = uuid.UUID(bytes=b"\xf8" + bytes(15))  # base64url "-A..."
    drawn = iter([dash_first, uuid.UUID(int=1)])
    monkeypatch.setattr(kafkanode.uuid, "uuid4", lambda: next(drawn))
    assert kafkanode.cluster_id() == "AAAAAAAAAAAAAAAAAAAAAQ"
