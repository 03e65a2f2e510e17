"""The distribution carries what a pip-installed user needs, and nothing drifts."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers.script_modules import load_module

REPO = Path(__file__).resolve().parents[1]


def test_packaged_kibana_objects_are_the_only_copy():
    # The generator writes, the stack's setup script reads and the package
    # ships one and the same file; elk/ keeps no second copy to drift.
    packaged = REPO / "django_reqlog" / "elastic" / "resources" / "kibana" / "reqlog.ndjson"
    builder = load_module(REPO / "elk" / "kibana" / "build_saved_objects.py", "reqlog_builder_pkg")
    setup_script = load_module(REPO / "elk" / "setup" / "setup.py", "reqlog_setup_pkg")
    assert builder.OUTPUT == setup_script.SAVED_OBJECTS == packaged
    assert packaged.read_text().count("\n") > 10
    assert not (REPO / "elk" / "kibana" / "reqlog.ndjson").exists()


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
        "django_reqlog/elastic/resources/elasticsearch/index-template.json",
        "django_reqlog/elastic/resources/elasticsearch/ilm-policy.json",
        "django_reqlog/elastic/resources/kibana/reqlog.ndjson",
        "django_reqlog/elastic/report/render.py",
        "django_reqlog/filters.py",
        "django_reqlog/celery.py",
        "django_reqlog/pytest_plugin.py",
    ):
        assert required in names, required
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[pytest11]\nreqlog = django_reqlog.pytest_plugin\n" in text
    assert not any(n.startswith(("tests/", "example_project/", "benchmarks/")) for n in names)
