"""Run a script in a fresh interpreter where importing OpenTelemetry fails,
as if it were not installed (tests/test_filters.py and
tests/request_events/test_otel.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

# Put first in every such script: each attempt to import OpenTelemetry is
# recorded in NoOpenTelemetry.attempts and fails.
WITHOUT_OPENTELEMETRY = """
import json, logging, sys

class NoOpenTelemetry:
    attempts = []
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "opentelemetry":
            self.attempts.append(name)
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, NoOpenTelemetry())
import django
django.setup()
"""


def run_without_opentelemetry(script: str, *args: str) -> Any:
    """Run WITHOUT_OPENTELEMETRY + ``script`` with the test settings; return
    the JSON it printed."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_OPENTELEMETRY + script, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
