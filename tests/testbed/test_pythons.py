"""tests/testbed/pythons.py: how `make test` finds the other Pythons it runs."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PYTHONS = Path(__file__).resolve().parent / "pythons.py"
CURRENT = f"{sys.version_info.major}.{sys.version_info.minor}"
# A version this interpreter is not.
OTHER = f"3.{sys.version_info.minor + 1}"


@pytest.fixture
def pythons() -> dict[str, Any]:
    return runpy.run_path(str(PYTHONS))


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty PATH and an empty pyenv root under tmp_path."""
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    for version in (CURRENT, OTHER):
        monkeypatch.delenv("REQLOG_PYTHON" + version.replace(".", ""), raising=False)
    return tmp_path


def pyenv_install(machine: Path, release: str) -> Path:
    """A pyenv install named ``release`` whose python is this interpreter."""
    python = machine / "pyenv" / "versions" / release / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)
    return python


def test_finds_a_pyenv_install(pythons: dict[str, Any], machine: Path) -> None:
    python = pyenv_install(machine, f"{CURRENT}.0")
    assert pythons["find_python"]([CURRENT]) == str(python)


def test_prefers_the_newest_pyenv_release(pythons: dict[str, Any], machine: Path) -> None:
    pyenv_install(machine, f"{CURRENT}.9")
    newest = pyenv_install(machine, f"{CURRENT}.10")
    assert pythons["find_python"]([CURRENT]) == str(newest)


def test_an_install_that_is_another_version_is_refused(
    pythons: dict[str, Any], machine: Path
) -> None:
    pyenv_install(machine, f"{OTHER}.0")  # named OTHER, runs CURRENT
    assert pythons["find_python"]([OTHER]) is None


def test_path_before_pyenv(pythons: dict[str, Any], machine: Path) -> None:
    pyenv_install(machine, f"{CURRENT}.0")
    on_path = machine / "bin" / f"python{CURRENT}"
    on_path.symlink_to(sys.executable)
    assert pythons["find_python"]([CURRENT]) == str(on_path)


def test_versions_in_order_of_preference(pythons: dict[str, Any], machine: Path) -> None:
    python = pyenv_install(machine, f"{CURRENT}.0")
    assert pythons["find_python"]([OTHER, CURRENT]) == str(python)


def test_the_variable_names_the_interpreter(
    pythons: dict[str, Any], machine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variable = pythons["explicit_var"](OTHER)
    assert variable == "REQLOG_PYTHON" + OTHER.replace(".", "")
    monkeypatch.setenv(variable, "/opt/python/bin/python3")
    assert pythons["find_python"]([OTHER], variable) == "/opt/python/bin/python3"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PYTHONS), *args],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ),
        timeout=120,
    )


def test_command_prints_the_interpreter(machine: Path) -> None:
    python = pyenv_install(machine, f"{CURRENT}.0")
    result = run(CURRENT)
    assert (result.returncode, result.stdout) == (0, f"{python}\n")


def test_command_says_what_to_do_when_none_is_found(machine: Path) -> None:
    result = run(OTHER)
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"no Python {OTHER}" in result.stderr
    assert "REQLOG_PYTHON" + OTHER.replace(".", "") in result.stderr


def test_command_usage() -> None:
    assert run("python3.10").returncode == 2
