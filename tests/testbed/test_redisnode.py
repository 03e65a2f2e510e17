"""redisnode.py: the test bed's Redis, started, handed to a command and stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.redis_server import redis_url
from tests.helpers.testbed_runs import env_without, run_python

REDISNODE = Path(__file__).resolve().parent / "redisnode.py"

# Prints what the command was given and whether Redis answers it (redis-py).
PROBE = """
import json, os, redis
url = os.environ.get("REQLOG_TEST_REDIS_URL")
answer = redis.Redis.from_url(url).ping() if url else None
print(json.dumps({"url": url, "ping": answer, "node": os.environ.get("REQLOG_TEST_REDIS_NODE"),
                  "required": os.environ.get("REQLOG_TEST_REDIS_REQUIRED")}))
"""


def run_redisnode(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = env_without("REQLOG_TEST_REDIS_", REQLOG_REDIS_CACHE_DIR=str(tmp_path / "cache"), **env)
    return run_python([str(REDISNODE), *args], clean)


@pytest.fixture
def redis_installed() -> None:
    """These start servers of their own: only where the test bed's runs,
    so redis-server is installed."""
    redis_url()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.redis
def test_run_hands_a_real_server_to_the_command_and_stops_it(tmp_path, redis_installed):
    result = run_redisnode(tmp_path, "run", "--", sys.executable, "-c", PROBE)
    assert result.returncode == 0, result.stderr
    given = json.loads(result.stdout)
    assert given["ping"] is True
    assert given["url"].startswith("redis://:") and "@127.0.0.1:" in given["url"]
    assert given["required"] == "1"
    assert "Redis stopped" in result.stderr
    assert not Path(given["node"]).exists()  # the instance is removed after a success


@pytest.mark.redis
def test_a_failed_command_keeps_the_server_log(tmp_path, redis_installed):
    result = run_redisnode(tmp_path, "run", "--", sys.executable, "-c", "raise SystemExit(5)")
    assert result.returncode == 5
    assert "command exited with 5; server log tail follows" in result.stderr
    assert "Ready to accept connections" in result.stderr
    (kept,) = (tmp_path / "cache" / "instances").iterdir()
    node = json.loads((kept / "node.json").read_text())
    assert not _alive(node["pid"])


@pytest.mark.redis
def test_start_env_stop(tmp_path, redis_installed):
    started = run_redisnode(tmp_path, "start")
    assert started.returncode == 0, started.stderr
    state = json.loads((tmp_path / "cache" / "node.json").read_text())
    try:
        assert _alive(state["pid"])
        env = run_redisnode(tmp_path, "env")
        assert env.returncode == 0
        assert f"export REQLOG_TEST_REDIS_URL='{state['url']}'" in env.stdout
    finally:
        stopped = run_redisnode(tmp_path, "stop")
    assert stopped.returncode == 0
    assert not _alive(state["pid"])


NO_SERVER = {"REQLOG_REDIS_SERVER": "/nonexistent/redis-server"}
HAS_URL = "import os, sys; sys.exit(41 if 'REQLOG_TEST_REDIS_URL' in os.environ else 7)"


def test_optional_runs_the_command_without_a_server(tmp_path):
    result = run_redisnode(
        tmp_path, "run", "--optional", "--", sys.executable, "-c", HAS_URL, **NO_SERVER
    )
    assert result.returncode == 7, result.stderr
    assert "no Redis (REQLOG_REDIS_SERVER=/nonexistent/redis-server is not an executable)" in (
        result.stderr
    )


def test_required_server_missing_is_an_error(tmp_path):
    result = run_redisnode(tmp_path, "run", "--", sys.executable, "-c", HAS_URL, **NO_SERVER)
    assert result.returncode == 3
    assert "could not start Redis" in result.stderr


def test_run_needs_a_command(tmp_path):
    assert run_redisnode(tmp_path, "run").returncode == 2


def test_env_and_stop_without_a_started_server(tmp_path):
    result = run_redisnode(tmp_path, "env")
    assert result.returncode == 1
    assert "no server running; use `redisnode.py start`" in result.stderr
    result = run_redisnode(tmp_path, "stop")
    assert result.returncode == 0
    assert "no server started with `redisnode.py start`" in result.stderr
