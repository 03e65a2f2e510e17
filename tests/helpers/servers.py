"""Run the test project under a real gunicorn (WSGI) or uvicorn (ASGI) worker.

Each run is its own server process with its own settings, so what happens at
startup (``AppConfig.ready``) happens as it would in production. The test
gets the responses, the server's stderr and the events the ``django_reqlog``
logger wrote (see ``tests/helpers/server_settings.py``).
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers.waiting import free_port, wait_for

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Call:
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]


@dataclass
class ServerRun:
    replies: list[Reply]
    stderr: str
    lines: list[dict[str, Any]]

    def reqlog_stderr(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("django-reqlog: ")]

    def requests(self) -> list[dict[str, Any]]:
        return [doc for doc in self.lines if "http" in doc and "url" in doc]

    def request(self, target: str) -> dict[str, Any]:
        """The one event of the request to ``target`` (path and query)."""
        found = [doc for doc in self.requests() if doc["url"]["original"] == target]
        assert len(found) == 1, (target, [doc["message"] for doc in self.lines], self.stderr)
        return found[0]

    def reports(self) -> list[dict[str, Any]]:
        return [doc for doc in self.lines if "check_id" in doc.get("labels", {})]


def _command(server: str, port: int) -> list[str]:
    bind = ["127.0.0.1", str(port)]
    if server == "gunicorn":
        return [
            sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", ":".join(bind),
            "django.core.wsgi:get_wsgi_application()",
        ]  # fmt: skip
    return [
        sys.executable, "-m", "uvicorn", "--factory", "--host", bind[0], "--port", bind[1],
        "--no-access-log", "django.core.asgi:get_asgi_application",
    ]  # fmt: skip


def _send(port: int, call: Call) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(call.method, call.path, body=call.body or None, headers=call.headers)
        response = conn.getresponse()
        response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()})
    finally:
        conn.close()


def _listening(port: int) -> bool:
    try:
        _send(port, Call("GET", "/__not_a_page__/ready"))
    except OSError:
        return False
    return True


def serve(
    tmp: Path, settings: dict[str, Any], calls: list[Call], server: str = "gunicorn"
) -> ServerRun:
    """Start ``server`` with ``settings``, make ``calls`` in order, stop it.

    The first request the server answers is a readiness probe to a missing
    page; its event is left out of ``lines``, not its report records."""
    port = free_port()
    events = tmp / f"{server}-events.jsonl"
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.helpers.server_settings",
        REQLOG_TEST_SETTINGS=json.dumps(settings),
        REQLOG_TEST_EVENTS=str(events),
    )
    with (tmp / f"{server}-stderr.txt").open("w+") as err:
        proc = subprocess.Popen(
            _command(server, port), cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err
        )
        try:
            assert wait_for(lambda: proc.poll() is not None or _listening(port), 60)
            assert proc.poll() is None, f"{server} exited"
            replies = [_send(port, call) for call in calls]
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        err.seek(0)
        stderr = err.read()
    lines = (
        [json.loads(line) for line in events.read_text().splitlines()] if events.exists() else []
    )
    lines = [doc for doc in lines if doc.get("url", {}).get("path") != "/__not_a_page__/ready"]
    return ServerRun(replies, stderr, lines)
