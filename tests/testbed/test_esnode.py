"""esnode.py's contract when no node can be had (the happy path is every
`es`-marked test, which runs under `esnode.py run`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.testbed_runs import env_without, run_one_test, run_python

ESNODE = Path(__file__).resolve().parent / "esnode.py"


def run_esnode(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A version Maven Central does not have: the fetch must fail cleanly.
    env = env_without(
        "REQLOG_TEST_ES_", REQLOG_ES_VERSION="0.0.1", REQLOG_ES_CACHE_DIR=str(tmp_path / "cache")
    )
    return run_python([str(ESNODE), *args], env)


PROBE = "import os, sys; sys.exit(41 if 'REQLOG_TEST_ES_URL' in os.environ else 7)"


@pytest.mark.slow
def test_optional_runs_the_command_without_a_node(tmp_path: Path) -> None:
    result = run_esnode(tmp_path, "run", "--optional", "--", sys.executable, "-c", PROBE)
    assert result.returncode == 7, result.stderr
    assert "running without it" in result.stderr


@pytest.mark.slow
def test_required_node_missing_is_an_error(tmp_path: Path) -> None:
    result = run_esnode(tmp_path, "run", "--", sys.executable, "-c", PROBE)
    assert result.returncode == 3
    assert "mvn could not fetch Elasticsearch 0.0.1" in result.stderr


def test_run_needs_a_command(tmp_path: Path) -> None:
    assert run_esnode(tmp_path, "run").returncode == 2


def test_env_without_a_started_node(tmp_path: Path) -> None:
    result = run_esnode(tmp_path, "env")
    assert result.returncode == 1
    assert "no node running" in result.stderr


@pytest.mark.parametrize(("required", "outcome"), [("", "1 skipped"), ("1", "1 error")])
def test_es_tests_skip_or_fail_without_a_node(required: str, outcome: str) -> None:
    result = run_one_test(
        "tests/elastic/test_templates.py::test_full_document_gets_the_mapped_types",
        env_without("REQLOG_TEST_ES_", REQLOG_TEST_ES_REQUIRED=required),
    )
    assert outcome in result.stdout, result.stdout[-2000:]
    if required:
        assert "REQLOG_TEST_ES_REQUIRED=1 but no Elasticsearch node" in result.stdout
