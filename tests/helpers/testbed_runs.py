"""Running a test-bed script, or one test of ours, in a child process whose
environment names no running server (the test-bed tests' contract checks)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def env_without(prefix: str, **extra: str) -> dict[str, str]:
    """This process's environment minus every variable starting with
    ``prefix`` (the ones a started server sets), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefix)}
    env.update(extra)
    return env


def run_python(
    args: list[str], env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` with this interpreter, output captured as text."""
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
    )


def run_one_test(test_id: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """One of our own tests, run by pytest from the repository root."""
    return run_python(["-m", "pytest", "-q", "-p", "no:randomly", test_id], env, cwd=REPO)
