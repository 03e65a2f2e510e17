"""JSON-lines files as a source: bad lines are counted, unusable paths are clear errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from django_reqlog.elastic.errors import ElasticError
from django_reqlog.elastic.report.files import BadLines, iter_file_lines
from tests.elastic.report_support import ecs_event


def test_iter_file_lines_counts_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    good = json.dumps(ecs_event())
    path.write_bytes(
        b"\n".join(
            [
                good.encode(),
                b"",  # blank lines are not errors
                b"{not json",
                b"[1, 2]",
                b"\xff\xfe not utf-8",
                good.encode(),
            ]
        )
        + b"\n"
    )
    bad = BadLines()
    docs = list(iter_file_lines(str(path), bad, progress=False))
    assert len(docs) == 2
    assert bad.count == 3
    assert [entry.split(": ", 1)[0] for entry in bad.first] == [
        f"{path}:3",
        f"{path}:4",
        f"{path}:5",
    ]
    assert "not JSON" in bad.first[0]
    assert "not an object" in bad.first[1]
    assert "not UTF-8" in bad.first[2]


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_iter_file_lines_reports_unusable_paths(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "nope.json" if kind == "missing" else tmp_path
    with pytest.raises(ElasticError, match="not found" if kind == "missing" else "directory"):
        list(iter_file_lines(str(path), BadLines(), progress=False))


def test_lines_only_the_stdlib_parser_accepts_are_still_read(tmp_path: Path) -> None:
    # orjson (used when installed) rejects NaN; such a line is not "bad".
    path = tmp_path / "events.json"
    doc = ecs_event(status=500)
    path.write_text(json.dumps(doc)[:-1] + ', "score": NaN}\n')
    bad = BadLines()
    docs = list(iter_file_lines(str(path), bad, progress=False))
    assert bad.count == 0
    assert math.isnan(docs[0][1]["score"])
