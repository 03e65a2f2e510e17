"""Report invalid settings loudly, under any server.

gunicorn and uvicorn run no system checks, so ``conf`` hands every problem
it finds at startup and on ``setting_changed`` to :func:`report`. Each one
goes to stderr at once, and to the ``django_reqlog`` logger (ERROR for an
error, WARNING for a warning) so that it reaches the same place as the
events.

The log record waits for the next request (``request_started``). At
``AppConfig.ready`` the project's handlers may not be in place yet: with
``LOGGING_CONFIG = None`` logging is often configured later, a gunicorn master
that preloads the application forks before its workers ship anything, and
a record logged before then would be lost or go to the wrong process.

A problem is reported once for as long as it lasts: validating the same
configuration again says nothing new, and a problem that is fixed and comes
back is reported again. IDs in ``SILENCED_SYSTEM_CHECKS`` are not reported.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable
from typing import Any

from django.core.signals import request_started

from django_reqlog import _stderr
from django_reqlog.validation import Problem

logger = logging.getLogger("django_reqlog")

_UID = "django_reqlog.setting_reports"


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.current: set[str] = set()  # the texts of the problems reported and still there
        self.pending: list[Problem] = []  # reported on stderr, not yet logged


_state = _State()


def report(problems: Iterable[Problem], silenced: Collection[str] = ()) -> None:
    """Report the problems of the configuration now in effect."""
    problems = [p for p in problems if p.check_id not in silenced]
    texts = {p.text() for p in problems}
    with _state.lock:
        new = [p for p in problems if p.text() not in _state.current]
        _state.current = texts
        # A problem fixed before any request came has nothing left to log.
        _state.pending = [p for p in _state.pending if p.text() in texts] + new
        if _state.pending:
            request_started.connect(_log_pending, dispatch_uid=_UID)
    for problem in new:
        _stderr.say(problem.text())


def _log_pending(sender: Any = None, **kwargs: Any) -> None:
    """``request_started`` receiver, connected only while records wait."""
    with _state.lock:
        pending, _state.pending = _state.pending, []
        request_started.disconnect(dispatch_uid=_UID)
    try:
        for problem in pending:
            logger.log(
                logging.ERROR if problem.is_error else logging.WARNING,
                problem.text(),
                extra={"check_id": problem.check_id, "setting": problem.setting},
            )
    except Exception as exc:  # never an exception of ours in a request
        _stderr.warn(f"could not log a settings problem: {exc!r}", key="setting_reports")


def reset() -> None:
    """Forget what was reported (tests)."""
    with _state.lock:
        _state.current = set()
        _state.pending = []
        request_started.disconnect(dispatch_uid=_UID)
