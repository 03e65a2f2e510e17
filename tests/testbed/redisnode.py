#!/usr/bin/env python3
"""Run a real, throw-away Redis server for the test suite (the Celery broker).

Usage::

    python tests/testbed/redisnode.py run [--optional] -- CMD...   # start, run CMD, stop
    python tests/testbed/redisnode.py start                        # start and leave running
    python tests/testbed/redisnode.py env                          # `export ...` lines for it
    python tests/testbed/redisnode.py stop                         # stop it by PID

The server is Debian's ``redis-server`` package. When ``redis-server`` is not
on PATH it is installed with ``apt-get update && apt-get install -y
redis-server`` (this needs root; elsewhere install the package yourself or set
REQLOG_REDIS_SERVER). Installing the package may also start the distribution's
own service on port 6379 where systemd runs; this script never uses or stops
that one.

Every run gets its own directory under ``.cache/redis/instances/`` (git-ignored)
with its config, log and data, and listens on 127.0.0.1 only, on a free port,
with a password made at random per run and no persistence. The command is
given ``REQLOG_TEST_REDIS_URL`` (``redis://:<password>@127.0.0.1:<port>``),
``REQLOG_TEST_REDIS_NODE`` (the instance's state file) and
``REQLOG_TEST_REDIS_REQUIRED=1``. The server is stopped by its PID whatever
the outcome; its directory is kept when the command fails.

Only the standard library is used (with nodecli.py beside it, the command
line and process handling it shares with esnode.py and kafkanode.py).

Environment knobs: REQLOG_REDIS_SERVER (path of redis-server),
REQLOG_REDIS_START_TIMEOUT seconds (default 30), REQLOG_REDIS_CACHE_DIR
(default .cache/redis).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import nodecli
from nodecli import free_port, group_alive

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("REQLOG_REDIS_CACHE_DIR") or REPO_ROOT / ".cache" / "redis")
STATE_FILE = CACHE / "node.json"
DEBIAN_PACKAGE = "redis-server"


def log(msg: str) -> None:
    print(f"[redisnode] {msg}", file=sys.stderr, flush=True)


class NodeError(RuntimeError):
    pass


# --------------------------------------------------------------------------- obtaining


def _apt_install() -> None:
    if os.geteuid() != 0:
        raise NodeError(
            f"redis-server is not installed and installing it needs root: "
            f"`sudo apt-get install -y {DEBIAN_PACKAGE}`, or set REQLOG_REDIS_SERVER"
        )
    if not shutil.which("apt-get"):
        raise NodeError(
            "redis-server is not installed and there is no apt-get to install it with; "
            "install Redis and put redis-server on PATH, or set REQLOG_REDIS_SERVER"
        )
    log(f"installing Debian's {DEBIAN_PACKAGE} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", DEBIAN_PACKAGE],
    ):
        proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
            raise NodeError(f"`{' '.join(command)}` failed ({proc.returncode}):\n{tail}")


def find_server() -> Path:
    """redis-server: REQLOG_REDIS_SERVER, PATH, or Debian's package installed now."""
    explicit = os.environ.get("REQLOG_REDIS_SERVER")
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise NodeError(f"REQLOG_REDIS_SERVER={explicit} is not an executable")
        return Path(explicit)
    found = shutil.which("redis-server")
    if found is None:
        with nodecli.cache_lock(CACHE):  # one apt-get at a time
            found = shutil.which("redis-server")
            if found is None:
                _apt_install()
                found = shutil.which("redis-server")
    if found is None:
        raise NodeError(f"{DEBIAN_PACKAGE} was installed but redis-server is not on PATH")
    return Path(found)


# --------------------------------------------------------------------------- configuring


def redis_conf(node: dict[str, Any]) -> str:
    instance = Path(node["instance"])
    lines = [
        "bind 127.0.0.1",
        f"port {node['port']}",
        "protected-mode yes",
        f"requirepass {node['password']}",
        "daemonize no",
        f"dir {instance / 'data'}",
        f"logfile {instance / 'redis.log'}",
        'save ""',
        "appendonly no",
        "databases 16",
    ]
    return "\n".join(lines) + "\n"


def write_instance(server: Path) -> dict[str, Any]:
    instance = CACHE / "instances" / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    (instance / "data").mkdir(parents=True)
    node: dict[str, Any] = {
        "instance": str(instance),
        "server": str(server),
        "port": free_port(),
        "password": secrets.token_urlsafe(18),
        "state_file": str(instance / "node.json"),
    }
    node["url"] = f"redis://:{node['password']}@127.0.0.1:{node['port']}"
    conf = instance / "redis.conf"
    conf.write_text(redis_conf(node))
    conf.chmod(0o600)
    return node


# --------------------------------------------------------------------------- running


def ping(port: int, password: str, timeout: float = 2.0) -> bool:
    """AUTH and PING over RESP: the server is up and takes our password."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(_resp("AUTH", password) + _resp("PING"))
            reply = b""
            while reply.count(b"\r\n") < 2:
                chunk = sock.recv(256)
                if not chunk:
                    return False
                reply += chunk
    except OSError:
        return False
    return reply == b"+OK\r\n+PONG\r\n"


def _resp(*words: str) -> bytes:
    parts = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def log_tail(node: dict[str, Any], lines: int = 60) -> str:
    return nodecli.tail_files(Path(node["instance"]), ("console.log", "redis.log"), lines)


def start_node(timeout: float) -> dict[str, Any]:
    t0 = time.monotonic()
    server = find_server()
    with nodecli.cache_lock(CACHE):
        node = write_instance(server)
        nodecli.prune_instances(CACHE / "instances", STATE_FILE)
    instance = Path(node["instance"])
    proc = nodecli.spawn_group([str(server), str(instance / "redis.conf")], instance)
    node["pid"] = proc.pid
    nodecli.save_node(node)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log(f"keeping node files for inspection: {instance}")
            raise NodeError(f"redis-server exited with {proc.returncode}\n" + log_tail(node))
        if ping(int(node["port"]), node["password"]):
            node["startup_seconds"] = round(time.monotonic() - t0, 1)
            nodecli.save_node(node)
            log(
                f"Redis (pid {proc.pid}, {server}) answering on 127.0.0.1:{node['port']} "
                f"after {node['startup_seconds']}s"
            )
            return node
        time.sleep(0.1)
    nodecli.stop_group(proc.pid, log)
    log(f"keeping node files for inspection: {instance}")
    raise NodeError(f"Redis did not answer within {timeout:.0f}s\n" + log_tail(node))


def stop_node(node: dict[str, Any], keep_logs: bool = False) -> None:
    nodecli.stop_group(int(node["pid"]), log)
    nodecli.keep_or_remove(node["instance"], keep_logs, log)


def node_env(node: dict[str, Any]) -> dict[str, str]:
    return {
        "REQLOG_TEST_REDIS_URL": node["url"],
        "REQLOG_TEST_REDIS_NODE": node["state_file"],
        "REQLOG_TEST_REDIS_REQUIRED": "1",
    }


def start_timeout() -> float:
    return float(os.environ.get("REQLOG_REDIS_START_TIMEOUT", "30"))


SERVER = nodecli.Server(
    name="Redis",
    noun="server",
    script="redisnode.py",
    present_var="REQLOG_TEST_REDIS_URL",
    state_file=STATE_FILE,
    error=NodeError,
    start=lambda: start_node(start_timeout()),
    stop=stop_node,
    env=node_env,
    tail=log_tail,
    alive=lambda node: group_alive(int(node["pid"])),
    where=lambda node: f"127.0.0.1:{node['port']}",
    log=log,
)


if __name__ == "__main__":
    sys.exit(nodecli.main(SERVER, __doc__.split("\n\n")[0]))
