"""JSONLinesFileHandler on its own: one line per record, reopened after
rotation, never raising, never sharing a descriptor across a fork.

Several processes and gunicorn workers writing one file are in
tests/handlers/test_files_under_gunicorn.py.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_reqlog import _stderr
from django_reqlog.formatters import ECSFormatter
from django_reqlog.handlers import JSONLinesFileHandler
from tests.helpers.handlers import record as plain_record

# The package's own logger, as the middleware's records have.
record = functools.partial(plain_record, name="django_reqlog")


def lines(path: Path) -> list[str]:
    return path.read_bytes().decode("utf-8").splitlines()


@pytest.fixture
def handler(tmp_path: Path) -> Any:
    made = JSONLinesFileHandler(tmp_path / "reqlog.ndjson")
    made.setFormatter(logging.Formatter("%(message)s %(event_id)s"))
    yield made
    made.close()


@pytest.fixture(autouse=True)
def fresh_stderr_limits() -> None:
    _stderr.reset()


# ------------------------------------------------------------ arguments


@pytest.mark.parametrize("bad", [None, 42, ["a.log"], b"a.log"])
def test_filename_of_the_wrong_type_is_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match="filename must be"):
        JSONLinesFileHandler(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "   ", "a\x00b"])
def test_filename_naming_no_file_is_a_value_error(bad: str) -> None:
    with pytest.raises(ValueError, match="filename must name a file"):
        JSONLinesFileHandler(bad)


def test_a_path_object_and_a_level_are_accepted(tmp_path: Path) -> None:
    made = JSONLinesFileHandler(tmp_path / "x.ndjson", level="WARNING")
    assert made.baseFilename == str(tmp_path / "x.ndjson")
    assert made.level == logging.WARNING
    assert repr(made) == f"<JSONLinesFileHandler {tmp_path / 'x.ndjson'} (WARNING)>"


def test_configured_through_dictconfig(tmp_path: Path) -> None:
    path = tmp_path / "reqlog.ndjson"
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"ecs": {"()": "django_reqlog.formatters.ECSFormatter"}},
            "handlers": {
                "files": {
                    "class": "django_reqlog.handlers.JSONLinesFileHandler",
                    "filename": str(path),
                    "formatter": "ecs",
                }
            },
            "loggers": {"reqlog_files_test": {"handlers": ["files"], "propagate": False}},
        }
    )
    logger = logging.getLogger("reqlog_files_test")
    try:
        logger.warning("configured")
        (doc,) = [json.loads(line) for line in lines(path)]
        assert doc["message"] == "configured"
        assert len(doc["event"]["id"]) == 32
    finally:
        for h in logger.handlers:
            h.close()
        logger.handlers.clear()


# ------------------------------------------------------------ lines


def test_nothing_is_opened_before_the_first_record(handler: JSONLinesFileHandler) -> None:
    assert not Path(handler.baseFilename).exists()
    handler.handle(record("first", event_id="e1"))
    assert lines(Path(handler.baseFilename)) == ["first e1"]


def test_each_record_is_one_line_and_keeps_its_event_id(handler: JSONLinesFileHandler) -> None:
    handler.handle(record("one", event_id="e1"))
    handler.handle(record("two", event_id="e2"))
    assert lines(Path(handler.baseFilename)) == ["one e1", "two e2"]


def test_a_record_without_an_event_id_gets_a_fresh_one(handler: JSONLinesFileHandler) -> None:
    first, second = record("a"), record("b")
    handler.handle(first)
    handler.handle(second)
    ids = [line.split()[1] for line in lines(Path(handler.baseFilename))]
    assert ids == [first.event_id, second.event_id]
    assert len(set(ids)) == 2 and all(len(i) == 32 for i in ids)


def test_a_300_kib_record_is_one_write(
    handler: JSONLinesFileHandler, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[int] = []
    real_write = os.write

    def counting_write(fd: int, data: bytes) -> int:
        writes.append(len(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", counting_write)
    big = "x" * (300 * 1024)
    handler.handle(record(big, event_id="big"))
    assert writes == [len(big) + len(" big\n")]
    assert lines(Path(handler.baseFilename)) == [f"{big} big"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(message=st.text(max_size=200))
def test_any_message_is_one_json_line(tmp_path: Path, message: str) -> None:
    # Newlines, NULs and lone surrogates included: the ECS line stays one
    # line of valid UTF-8 that parses back to the message.
    path = tmp_path / "hostile.ndjson"
    path.unlink(missing_ok=True)
    made = JSONLinesFileHandler(path)
    made.setFormatter(ECSFormatter())
    try:
        made.handle(record(message))
    finally:
        made.close()
    raw = path.read_bytes()
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    doc = json.loads(raw.decode("utf-8"))
    assert doc["message"] == message


def test_a_lone_surrogate_is_escaped_not_lost(handler: JSONLinesFileHandler) -> None:
    # Only a formatter that leaves non-ASCII alone (ours escape it) passes
    # one through; the line is still written, as a JSON-style escape.
    handler.handle(record("bad \udcff byte", event_id="e1"))
    assert lines(Path(handler.baseFilename)) == ["bad \\udcff byte e1"]


# ------------------------------------------------------------ rotation


def test_rotation_by_rename_sends_the_next_line_to_a_new_file(
    handler: JSONLinesFileHandler,
) -> None:
    # logrotate's default ("create"): rename, then a new file at the path.
    live = Path(handler.baseFilename)
    handler.handle(record("before", event_id="e1"))
    live.rename(live.with_name("reqlog.ndjson.1"))
    handler.handle(record("after", event_id="e2"))
    assert lines(live.with_name("reqlog.ndjson.1")) == ["before e1"]
    assert lines(live) == ["after e2"]


def test_rotation_by_rename_and_create_writes_to_the_created_file(
    handler: JSONLinesFileHandler,
) -> None:
    live = Path(handler.baseFilename)
    handler.handle(record("before", event_id="e1"))
    live.rename(live.with_name("reqlog.ndjson.1"))
    live.touch(mode=0o640)  # what logrotate's `create 0640 ...` does
    handler.handle(record("after", event_id="e2"))
    assert lines(live) == ["after e2"]
    assert (live.stat().st_mode & 0o777) == 0o640


def test_a_removed_file_is_created_again(handler: JSONLinesFileHandler) -> None:
    live = Path(handler.baseFilename)
    handler.handle(record("before", event_id="e1"))
    live.unlink()
    handler.handle(record("after", event_id="e2"))
    assert lines(live) == ["after e2"]


def test_copytruncate_leaves_no_hole(handler: JSONLinesFileHandler) -> None:
    # copytruncate keeps the file; O_APPEND makes the next line start at the
    # new end (offset 0), not at the old offset after a run of NUL bytes.
    live = Path(handler.baseFilename)
    handler.handle(record("before", event_id="e1"))
    shutil.copyfile(live, live.with_name("reqlog.ndjson.1"))
    with live.open("r+b") as f:
        f.truncate(0)
    handler.handle(record("after", event_id="e2"))
    assert live.read_bytes() == b"after e2\n"
    assert lines(live.with_name("reqlog.ndjson.1")) == ["before e1"]


# ------------------------------------------------------------ failures


def test_emit_never_raises_and_resumes_when_the_directory_returns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "logs"
    directory.mkdir()
    made = JSONLinesFileHandler(directory / "reqlog.ndjson")
    made.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("reqlog_files_failure_test")
    logger.propagate = False
    logger.addHandler(made)
    try:
        logger.warning("one")
        shutil.rmtree(directory)
        logger.warning("lost")  # the stdlib's WatchedFileHandler raises here
        logger.warning("lost too")
        err = capsys.readouterr().err
        assert err.count("django-reqlog: JSONLinesFileHandler could not write to") == 1
        assert "FileNotFoundError" in err
        directory.mkdir()
        logger.warning("back")
        assert lines(directory / "reqlog.ndjson") == ["back"]
    finally:
        logger.removeHandler(made)
        made.close()


def test_a_short_write_is_reported_not_completed(
    handler: JSONLinesFileHandler,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, data[:5]))
    handler.handle(record("cut short", event_id="e1"))
    assert Path(handler.baseFilename).read_bytes() == b"cut s"
    assert "short write: 5 of 13 bytes" in capsys.readouterr().err


def test_close_is_idempotent(handler: JSONLinesFileHandler) -> None:
    handler.handle(record("one", event_id="e1"))
    handler.close()
    handler.close()


# ------------------------------------------------------------ fork


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_opens_its_own_descriptor(handler: JSONLinesFileHandler) -> None:
    # A preloading master that logged before forking: the child must not
    # write through the descriptor it inherited.
    handler.handle(record("master", event_id="e0"))
    inherited = os.fstat(handler._fd)  # type: ignore[arg-type]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            handler.handle(record("child", event_id="e1"))
            opened_own = handler._identity is not None and handler._identity[0] == os.getpid()
            os.write(write_end, b"own" if opened_own else b"inherited")
        finally:
            os._exit(0)
    os.close(write_end)
    answer = os.read(read_end, 16)
    os.close(read_end)
    os.waitpid(pid, 0)
    assert answer == b"own"
    assert os.fstat(handler._fd).st_ino == inherited.st_ino  # type: ignore[arg-type]
    handler.handle(record("master again", event_id="e2"))
    assert lines(Path(handler.baseFilename)) == ["master e0", "child e1", "master again e2"]
