"""Progress on stderr while a file is read: a redrawn line on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from django_reqlog.elastic.report.files import BadLines, iter_file_lines
from tests.elastic.report_support import ecs_event


def test_progress_indicator_goes_to_the_given_stream(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text("\n".join(json.dumps(ecs_event(at=n)) for n in range(50)) + "\n")
    stream = io.StringIO()
    docs = list(iter_file_lines(str(path), BadLines(), progress=True, stream=stream))
    assert len(docs) == 50
    shown = stream.getvalue()
    assert "reading" in shown
    assert "100.0% (50 lines)" in shown
    assert shown.endswith("\n")


def test_no_progress_for_small_files_off_a_terminal(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text(json.dumps(ecs_event()) + "\n")
    stream = io.StringIO()  # not a TTY
    list(iter_file_lines(str(path), BadLines(), progress=None, stream=stream))
    assert stream.getvalue() == ""


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_one_line_on_a_terminal(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text("\n".join(json.dumps(ecs_event(at=n)) for n in range(10)) + "\n")
    stream = FakeTerminal()
    list(iter_file_lines(str(path), BadLines(), progress=True, stream=stream))
    shown = stream.getvalue()
    assert shown.startswith("\r")
    assert shown.count("\n") == 1
    assert shown.endswith("100.0% (10 lines)\n")


def test_large_files_get_progress_lines_off_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.json"
    path.write_text("\n".join(json.dumps(ecs_event(at=n)) for n in range(10)) + "\n")
    monkeypatch.setattr("django_reqlog.elastic.report.files.LARGE_FILE_BYTES", path.stat().st_size)
    stream = io.StringIO()
    list(iter_file_lines(str(path), BadLines(), progress=None, stream=stream))
    lines = stream.getvalue().splitlines()
    # Plain lines (no carriage returns) for logs and pipes, ending at 100 %.
    assert "\r" not in stream.getvalue()
    assert lines[-1].endswith("100.0% (10 lines)")
