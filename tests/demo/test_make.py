"""A newcomer's first command: ``make demo`` in a fresh clone.

Cloning (not copying the working tree) means only committed files take part,
so a file someone forgot to add, or an install step missing from the
Makefile, fails here rather than on the newcomer's machine. The clone builds
its own virtualenv; only the base interpreter and pip's download cache are
shared with this machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def base_python() -> str:
    """The interpreter the running virtualenv was made from (not the venv itself)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return str(base)


def test_make_demo_in_a_fresh_clone(tmp_path: Path) -> None:
    for tool in ("git", "make"):
        assert shutil.which(tool), f"{tool} is needed to run `make demo`"
    clone = tmp_path / "django-reqlog"
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)],
        check=True,
        timeout=120,
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REQLOG_", "DJANGO_", "VIRTUAL_ENV", "PYTHON"))
    }
    started = time.monotonic()
    proc = subprocess.run(
        ["make", "demo", f"PYTHON={base_python()}"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    elapsed = time.monotonic() - started
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    assert "Demo OK" in proc.stdout
    # It ran in the clone's own virtualenv, with the clone's code.
    assert (clone / ".venv" / "bin" / "python").exists()
    assert (clone / "example_project" / "var" / "reqlog.ecs.json").stat().st_size > 0
    assert str(REPO / ".venv") not in output
    # Installing a virtualenv from scratch dominates; the demo itself is
    # checked against its two-minute budget in tests/demo/test_flow.py.
    assert elapsed < 900, f"make demo took {elapsed:.0f}s"
