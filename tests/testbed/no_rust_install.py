"""Install django-reqlog where no Rust toolchain can be found, and check that
it works in pure Python (``make test`` runs this).

The compiled core is optional: setuptools-rust reports that it cannot find
Rust and the package installs without ``django_reqlog._native``. This script
proves it: a fresh virtualenv under .cache/, a ``pip install`` of this tree
with every directory that holds ``cargo`` or ``rustc`` taken off PATH and the
CARGO*/RUSTUP* variables removed, then a masked event formatted by the
installed package, with the reference masker.

Usage::

    python tests/testbed/no_rust_install.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".cache" / "no-rust-venv"

CHECK = textwrap.dedent(
    """
    import importlib.util, json, logging
    from django.conf import settings

    settings.configure(REQLOG_SENSITIVE_VALUE_PATTERNS=[r"\\b\\d{3}-\\d{2}-\\d{4}\\b"])
    import django_reqlog
    from django_reqlog import masking
    from django_reqlog.request_facts import RequestFacts
    from django_reqlog.formatters import ECSFormatter

    assert importlib.util.find_spec("django_reqlog._native") is None, "the core was built"
    assert not masking.native_enabled()
    body = b'{"user": "ann", "password": "hunter2", "note": "ssn 123-45-6789", "n": 4111111111111111}'
    facts = RequestFacts(
        event_id="e" * 32, request_id="req-1", started_at=1764236572.0, method="POST",
        scheme="https", host="api.example.com", path="/login/", query_string="token=abc&next=/",
        http_version="HTTP/1.1", remote_addr="203.0.113.5", forwarded_for="",
        user_agent="curl/8.0", referer="", content_type="application/json",
        content_length=len(body), content_encoding="", body_prefix=body,
        body_bytes=len(body), status=200,
    )
    record = logging.LogRecord("django_reqlog", logging.INFO, "check.py", 1, "event", (), None)
    record.reqlog, record.event_id, record.request_id = facts, facts.event_id, facts.request_id
    line = ECSFormatter().format(record)
    event = json.loads(line)
    for secret in ("hunter2", "123-45-6789", "4111111111111111", "abc"):
        assert secret not in line, secret
    assert json.loads(event["http"]["request"]["body"]["content"]) == {
        "user": "ann", "password": "[REDACTED]", "note": "ssn [REDACTED]", "n": "[REDACTED]"
    }
    print("pure-Python django-reqlog", django_reqlog.__version__, "formatted a masked event")
    """
)


def rustless_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARGO", "RUSTUP", "RUSTC"))}
    kept = []
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not any((Path(directory) / tool).exists() for tool in ("cargo", "rustc")):
            kept.append(directory)
    env["PATH"] = os.pathsep.join(kept)
    env.pop("PYTHONPATH", None)
    return env


def clean_copy(target: Path) -> Path:
    """The source tree without build output (a stale build/ or compiled core
    would end up in the wheel) or virtualenvs."""
    ignore = shutil.ignore_patterns(
        ".git", ".venv*", ".cache", "build", "dist", "target", "*.so", "*.egg-info", "__pycache__"
    )
    shutil.copytree(ROOT, target, ignore=ignore)
    return target


def main() -> None:
    env = rustless_environment()
    for tool in ("cargo", "rustc"):
        found = shutil.which(tool, path=env["PATH"])
        assert found is None, f"{tool} is still on PATH: {found}"
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, env=env)
    python = str(VENV / "bin" / "python")
    source = clean_copy(VENV / "src")
    install = subprocess.run(
        [python, "-m", "pip", "install", "--verbose", str(source)],
        check=False,
        env=env,
        capture_output=True,
        text=True,
    )
    if install.returncode:
        sys.exit(f"pip install failed without Rust:\n{install.stdout}\n{install.stderr}")
    output = (install.stdout + install.stderr).splitlines()
    said = [line.strip() for line in output if "Rust compiler" in line]
    print("setuptools-rust:", said[0] if said else "(no message)")
    # Run from outside the tree, so the installed package is the one imported.
    subprocess.run([python, "-c", CHECK], check=True, env=env, cwd=VENV / "bin")


if __name__ == "__main__":
    main()
