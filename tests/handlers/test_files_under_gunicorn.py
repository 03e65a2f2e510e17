"""JSONLinesFileHandler under a real gunicorn: two workers forked from a
preloading master write one file, logrotate renames it in the middle of the
run, and every request must appear exactly once across the files, each line
whole.

What each test catches (run against the handlers they compare with):
- the rotation test, run with the handler the demo configures too, fails
  with the demo's former ``RotatingFileHandler`` and with a plain shared
  ``FileHandler``: neither reopens the renamed file, so the requests after
  the rotation land in ``reqlog.ndjson.1`` and the live file stays empty
  (logrotate later deletes what is really current);
- the large-event test's second case runs a writer that splits lines into
  pieces, and the check finds broken lines: the first case's "none broken"
  is a real result, not a check that cannot fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers.gunicorn_files import (
    LOG_NAME,
    REPO,
    drive,
    gunicorn,
    read_files,
    rotate_like_logrotate,
)
from tests.helpers.script_modules import load_module

OURS = {"class": "django_reqlog.handlers.JSONLinesFileHandler"}
SPLIT_WRITER = {"class": "tests.helpers.gunicorn_files.SplitWriteFileHandler"}


def handler(kind: dict[str, str], directory: Path) -> dict[str, Any]:
    return {**kind, "filename": str(directory / LOG_NAME)}


def demo_handler(directory: Path) -> dict[str, Any]:
    """The file handler ``make demo`` (and the compose app) configures."""
    config = load_module(
        REPO / "example_project" / "reqlog_demo" / "logging_config.py", "reqlog_demo_logging"
    )
    env = {"REQLOG_LOG_FILE": str(directory / LOG_NAME)}
    entry: dict[str, Any] = config.build_logging(env, directory)["handlers"]["reqlog_file"]
    return {key: value for key, value in entry.items() if key != "formatter"}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("setup", ["ours", "demo"])
def test_every_request_once_across_a_rotation(tmp_path: Path, setup: str) -> None:
    before = [f"before-{n}" for n in range(120)]
    after = [f"after-{n}" for n in range(120)]
    config = handler(OURS, tmp_path) if setup == "ours" else demo_handler(tmp_path)
    with gunicorn(tmp_path, config) as server:
        drive(server.port, before)
        rotate_like_logrotate(tmp_path)
        drive(server.port, after)
        server.stop()
    files = read_files(tmp_path)
    assert files.broken == [], server.stderr
    assert set(files.docs) == {LOG_NAME, f"{LOG_NAME}.1"}
    counts = files.ids()
    assert {i: counts[i] for i in before + after} == dict.fromkeys(before + after, 1)
    # The master's line, written before the fork, is there once too.
    assert counts["master-ready"] == 1
    # Both workers wrote after the rotation, and every one of those lines
    # went to the new live file: each worker reopened on its own.
    assert len(files.pids(set(after))) == 2
    assert set(files.ids(LOG_NAME)) == set(after)
    assert set(files.ids(f"{LOG_NAME}.1")) == {"master-ready", "ready-probe", *before}
    assert "django-reqlog:" not in server.stderr


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("kind", "whole"), [(OURS, True), (SPLIT_WRITER, False)])
def test_large_events_never_interleave(tmp_path: Path, kind: dict[str, str], whole: bool) -> None:
    # Bodies near the largest the event cap leaves room for (256 KiB): each
    # line is about 250 KiB, written by both workers at the same time.
    body = b"interleave-me-" * (250 * 1024 // 14)
    ids = [f"large-{n}" for n in range(48)]
    settings = {"REQLOG_MAX_BODY_BYTES": 256 * 1024}
    with gunicorn(tmp_path, handler(kind, tmp_path), settings) as server:
        drive(server.port, ids, body=body)
        server.stop()
    files = read_files(tmp_path)
    if not whole:
        assert files.broken, "the split writer's lines should have interleaved"
        return
    assert files.broken == [], server.stderr
    docs = [doc for doc in files.docs[LOG_NAME] if doc["http"]["request"]["id"] in ids]
    assert sorted(doc["http"]["request"]["id"] for doc in docs) == sorted(ids)
    assert len(files.pids(set(ids))) == 2
    for doc in docs:
        captured = doc["http"]["request"]["body"]
        assert captured["bytes"] == len(body)
        assert captured["content"] == body.decode()
