"""The request event's LogRecord, made without the generic work of ``Logger.log``.

``Logger.log`` walks the stack to find the caller and ``LogRecord.__init__``
splits the source path on every call; for our one call site both answers
never change, and together they were about a third of the middleware's cost
on the request thread. The record is still a ``LogRecord`` with every
standard attribute, filled in the way the standard library fills it, and it
goes through ``Logger.handle`` (filters, handlers, propagation) unchanged.
A custom ``logging.setLogRecordFactory`` is honoured: then the factory makes it.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any

_FUNC = "_emit"
_START: float = getattr(logging, "_startTime", time.time())  # when logging was imported


class RequestRecord(logging.LogRecord):
    """A standard LogRecord; the subclass only marks how it was made."""

    def __init__(self) -> None:  # filled in by make_record, not by LogRecord.__init__
        pass


_static: dict[str, Any] | None = None


def _static_attrs(name: str, pathname: str, lineno: int) -> dict[str, Any]:
    """The attributes that are the same for every request event, taken from a
    real LogRecord so the set matches this Python version."""
    global _static  # noqa: PLW0603 - built once; the inputs never change
    if _static is None or _static["name"] != name or _static["lineno"] != lineno:
        template = logging.LogRecord(name, logging.INFO, pathname, lineno, "", (), None, _FUNC)
        _static = dict(vars(template))
    return _static


def make_record(
    logger: logging.Logger,
    level: int,
    msg: object,
    exc_info: Any,
    extra: dict[str, Any],
    *,
    pathname: str,
    lineno: int,
) -> logging.LogRecord:
    if logging.getLogRecordFactory() is not logging.LogRecord:
        return logger.makeRecord(
            logger.name, level, pathname, lineno, msg, (), exc_info, _FUNC, extra
        )
    static = _static_attrs(logger.name, pathname, lineno)
    return _assemble(static, origin(level), msg, exc_info, extra)


Site = tuple[str, str, int]  # logger name, pathname, lineno
Origin = tuple[int, float, Any, Any, Any, Any, Any]
_NO_TASK = "django_reqlog.no-task-attribute"  # this Python's LogRecord has no taskName
_HAS_TASK_NAME = hasattr(logging.LogRecord("", 0, "", 0, "", (), None), "taskName")


# os.getpid() is a system call; the answer only changes in a forked child.
_pid = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _pid.__setitem__(0, os.getpid()))


def origin(level: int) -> Origin:
    """What a record says about when and where it was made (level, time,
    thread, process, task), read as ``LogRecord.__init__`` reads it, on the
    thread that makes the record."""
    now = time.time()
    thread = thread_name = process = process_name = None
    if logging.logThreads:
        thread = threading.get_ident()
        thread_name = threading.current_thread().name
    if logging.logProcesses:
        process = _pid[0]
    if logging.logMultiprocessing:
        process_name = "MainProcess"
        multiprocessing = sys.modules.get("multiprocessing")
        if multiprocessing is not None:
            # Not contextlib.suppress: a context manager per event is measurable.
            try:  # noqa: SIM105
                process_name = multiprocessing.current_process().name
            except Exception:
                pass  # the standard library tolerates this too
    task = _task_name() if _HAS_TASK_NAME else _NO_TASK
    return (level, now, thread, thread_name, process, process_name, task)


def _assemble(
    static: dict[str, Any], made: Origin, msg: object, exc_info: Any, extra: dict[str, Any]
) -> RequestRecord:
    level, now, thread, thread_name, process, process_name, task = made
    record = RequestRecord()
    attrs = record.__dict__
    attrs.update(static)
    attrs["msg"] = msg
    attrs["args"] = ()
    attrs["levelno"] = level
    attrs["levelname"] = logging.getLevelName(level)
    attrs["exc_info"] = exc_info
    attrs["created"] = now
    attrs["msecs"] = int((now - int(now)) * 1000) + 0.0
    attrs["relativeCreated"] = (now - _START) * 1000
    attrs["thread"] = thread
    attrs["threadName"] = thread_name
    attrs["process"] = process
    attrs["processName"] = process_name
    if task is not _NO_TASK:
        attrs["taskName"] = task
    attrs.update(extra)
    return record


def assemble_record(site: Site, made: Origin, msg: object, extra: dict[str, Any]) -> RequestRecord:
    """The record ``make_record`` would have made at ``site`` with ``made``
    captured then: for events whose record is only needed on another thread."""
    return _assemble(_static_attrs(*site), made, msg, None, extra)


def _task_name() -> str | None:
    if not getattr(logging, "logAsyncioTasks", False):
        return None
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return None
    try:
        task = asyncio.current_task()
    except Exception:  # no running loop
        return None
    return task.get_name() if task is not None else None
