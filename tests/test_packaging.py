"""The distribution carries what a pip-installed user needs, and nothing drifts."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_packaged_kibana_objects_match_elk_copy():
    packaged = REPO / "django_reqlog" / "resources" / "kibana" / "reqlog.ndjson"
    assert packaged.read_bytes() == (REPO / "elk" / "kibana" / "reqlog.ndjson").read_bytes()


@pytest.mark.slow
def test_wheel_contains_package_data(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("django_reqlog-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "django_reqlog/py.typed",
        "django_reqlog/middleware.py",
        "django_reqlog/handlers/__init__.py",
        "django_reqlog/management/commands/reqlog_setup.py",
        "django_reqlog/resources/elasticsearch/index-template.json",
        "django_reqlog/resources/elasticsearch/ilm-policy.json",
        "django_reqlog/resources/kibana/reqlog.ndjson",
    ):
        assert required in names, required
    assert not any(n.startswith(("tests/", "example_project/", "benchmarks/")) for n in names)
