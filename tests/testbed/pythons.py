"""Find a CPython interpreter of a given minor version, through PATH or pyenv.

``make test`` needs more interpreters than the one it runs under: the fast
suite runs again on Python 3.10 and 3.13 (the oldest and newest supported),
and ElastAlert2 needs 3.12 or later (elastalert_venv.py). Only the standard
library is used: this runs before any virtualenv exists.

Usage::

    python tests/testbed/pythons.py 3.10   # print the interpreter's path, or exit 1

An interpreter is used only if it reports the version asked for: a pyenv
shim on PATH answers for whichever version pyenv selects, or fails.
``$REQLOG_PYTHON310`` (``REQLOG_PYTHON313``...) names one explicitly.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

_PROBE = "import sys; print('%d.%d' % sys.version_info[:2])"


def explicit_var(version: str) -> str:
    """The environment variable naming the interpreter for ``version`` ("3.10")."""
    return "REQLOG_PYTHON" + version.replace(".", "")


def _pyenv_versions(version: str) -> list[Path]:
    """pyenv's installs of ``version`` ("3.10.13", "3.10.4"...), newest first."""
    root = Path(os.environ.get("PYENV_ROOT", "~/.pyenv")).expanduser()
    found = root.glob(f"versions/{version}.*/bin/python")

    def release(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parents[1].name))

    return sorted(found, key=release, reverse=True)


def _candidates(version: str) -> Iterator[str]:
    on_path = shutil.which(f"python{version}")
    if on_path:
        yield on_path
    yield from (str(path) for path in _pyenv_versions(version))


def reports(interpreter: str, version: str) -> bool:
    """True when ``interpreter`` runs and says it is Python ``version``."""
    try:
        probe = subprocess.run(
            [interpreter, "-c", _PROBE], capture_output=True, text=True, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0 and probe.stdout.strip() == version


def find_python(versions: Sequence[str], explicit: str | None = None) -> str | None:
    """The first interpreter of one of ``versions`` ("3.12", "3.13"), tried in
    that order; ``explicit`` (an environment variable) overrides the search."""
    if explicit and os.environ.get(explicit):
        return os.environ[explicit]
    for version in versions:
        for candidate in _candidates(version):
            if reports(candidate, version):
                return candidate
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not re.fullmatch(r"3\.\d+", argv[0]):
        print("usage: pythons.py 3.N", file=sys.stderr)
        return 2
    version = argv[0]
    found = find_python([version], explicit_var(version))
    if found is None:
        print(
            f"pythons.py: no Python {version} on PATH (python{version}) or under pyenv"
            f" ($PYENV_ROOT/versions/{version}.*); install one (pyenv install {version})"
            f" or name it in ${explicit_var(version)}",
            file=sys.stderr,
        )
        return 1
    print(found)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
