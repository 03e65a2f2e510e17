"""Install ElastAlert2 into its own virtualenv under .cache/ and print its path.

ElastAlert2 pins ``elasticsearch==7.10.1`` (the client) and, from 2.20 on,
needs Python >= 3.12, so it cannot share the project's virtualenv. The
stack tests (tests/elastic/test_stack_elastalert.py) run the real ``elastalert-test-rule``
from this virtualenv against the real Elasticsearch node of the test bed.

Usage::

    python tests/testbed/elastalert_venv.py          # install if needed, print the venv path
    python tests/testbed/elastalert_venv.py --check  # exit 1 when not installed

The interpreter is ``$REQLOG_ELASTALERT_PYTHON`` if set, else the first
Python 3.12, 3.13 or 3.14 found on PATH or under pyenv (pythons.py). The installed version is pinned
to the one the compose file runs (``jertel/elastalert2`` image tag).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pythons

ROOT = Path(__file__).resolve().parents[2]
# Keep in step with the elastalert image tag in docker-compose.yml
# (tests/elastic/test_stack_compose.py asserts they agree).
ELASTALERT_VERSION = "2.31.0"
VENV = ROOT / ".cache" / f"elastalert2-{ELASTALERT_VERSION}"
STAMP = VENV / ".installed"
# The Pythons ElastAlert2 supports, in order of preference.
SUPPORTED_PYTHONS = ("3.12", "3.13", "3.14")


def find_python() -> str | None:
    """Return a Python 3.12+ interpreter, or None."""
    return pythons.find_python(SUPPORTED_PYTHONS, "REQLOG_ELASTALERT_PYTHON")


def bin_dir() -> Path:
    return VENV / "bin"


def install() -> Path:
    if STAMP.exists():
        return VENV
    python = find_python()
    if python is None:
        raise SystemExit(
            "elastalert_venv: ElastAlert2 "
            f"{ELASTALERT_VERSION} needs Python >= 3.12; set REQLOG_ELASTALERT_PYTHON"
        )
    if VENV.exists():
        shutil.rmtree(VENV)
    VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([python, "-m", "venv", str(VENV)], check=True)
    pip = [
        str(bin_dir() / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]
    subprocess.run([*pip, f"elastalert2=={ELASTALERT_VERSION}"], check=True)
    STAMP.write_text(ELASTALERT_VERSION + "\n")
    return VENV


def main(argv: list[str]) -> int:
    if "--check" in argv:
        return 0 if STAMP.exists() else 1
    print(install())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
