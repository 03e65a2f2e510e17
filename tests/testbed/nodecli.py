"""What the test bed's servers share (esnode.py, kafkanode.py).

Free ports, JDK discovery, process groups, the cache lock, pruning old
instance directories, and the ``run [--optional] -- CMD`` / ``start`` /
``stop`` / ``env`` command line. Only the standard library is used: these
scripts run before any virtualenv package is importable in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Node = dict[str, Any]


# --------------------------------------------------------------------------- machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def java_major(java_home: Path) -> int | None:
    release = java_home / "release"
    if not release.is_file():
        return None
    match = re.search(r'^JAVA_VERSION="(\d+)', release.read_text(errors="replace"), re.M)
    return int(match.group(1)) if match else None


def installed_jdks(env_vars: tuple[str, ...]) -> list[tuple[int | None, Path]]:
    """(major version, home) of every JDK named by ``env_vars``, under
    /usr/lib/jvm, or behind ``java`` on PATH."""
    candidates: list[Path] = [Path(os.environ[var]) for var in env_vars if os.environ.get(var)]
    jvm_dir = Path("/usr/lib/jvm")
    if jvm_dir.is_dir():
        candidates.extend(p for p in sorted(jvm_dir.iterdir()) if not p.is_symlink())
    java_bin = shutil.which("java")
    if java_bin:
        candidates.append(Path(java_bin).resolve().parents[1])
    return [(java_major(p), p) for p in candidates if (p / "bin" / "java").exists()]


def newest_jdk(jdks: list[tuple[int | None, Path]], low: int, high: int) -> Path | None:
    fitting = sorted(
        ((m, p) for m, p in jdks if m is not None and low <= m <= high), key=lambda mp: mp[0]
    )
    return fitting[-1][1] if fitting else None


# --------------------------------------------------------------------------- processes


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    reap(pgid)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def stop_group(pid: int, log: Callable[[str], None], *, resume: bool = False) -> None:
    """SIGTERM a process group, SIGKILL it if it is still there after 30 s.

    ``resume`` sends SIGCONT first: a SIGSTOPped process never acts on SIGTERM.
    """
    if group_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            if resume:
                os.killpg(pid, signal.SIGCONT)
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and group_alive(pid):
            reap(pid)
            time.sleep(0.1)
        if group_alive(pid):
            log(f"pid {pid} ignored SIGTERM for 30s, killing it")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            time.sleep(0.5)
    reap(pid)


def spawn_group(command: list[str], cwd: Path, **popen: Any) -> subprocess.Popen[bytes]:
    """Start a server as the leader of a new session, its output appended to
    ``cwd/console.log``: a new session makes it (and whatever it forks) one
    process group, stopped by that id (``stop_group``)."""
    with open(cwd / "console.log", "ab") as console:
        return subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **popen,
        )


def tail_files(instance: Path, names: tuple[str, ...], lines: int) -> str:
    """The last ``lines`` lines of each of an instance's log files, for messages."""
    parts = []
    for name in names:
        path = instance / name
        if path.is_file():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path} (last {len(text)} lines)\n" + "\n".join(text))
    return "\n".join(parts) or "(no log files)"


def keep_or_remove(instance: str | Path, keep_logs: bool, log: Callable[[str], None]) -> None:
    """After a node stopped: keep its files for inspection, or remove them."""
    if keep_logs:
        log(f"keeping node files for inspection: {instance}")
    else:
        shutil.rmtree(instance, ignore_errors=True)


def save_node(node: Node) -> None:
    """Write a node's state file (``node["state_file"]``), readable by its owner only."""
    path = Path(node["state_file"])
    path.write_text(json.dumps(node, indent=2))
    path.chmod(0o600)


# --------------------------------------------------------------------------- cache


@contextlib.contextmanager
def cache_lock(cache: Path) -> Iterator[None]:
    """Serialise downloads and one-off setup between concurrent runs."""
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prune_instances(root: Path, state_file: Path, max_age: float = 86400) -> None:
    """Drop instance directories a crashed or killed run left behind (kept for
    a day), never the one of the server `start` left running (``state_file``)."""
    if not root.is_dir():
        return
    keep = ""
    with contextlib.suppress(ValueError, KeyError, OSError):
        keep = json.loads(state_file.read_text())["instance"]
    for path in root.iterdir():
        if str(path) == keep:
            continue
        with contextlib.suppress(OSError):
            if time.time() - path.stat().st_mtime > max_age:
                shutil.rmtree(path, ignore_errors=True)


def shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


# --------------------------------------------------------------------------- command line


@dataclass(frozen=True)
class Server:
    """One kind of test-bed server, as the command line drives it."""

    name: str  # "Elasticsearch"
    noun: str  # "node", "broker"
    script: str  # "esnode.py"
    present_var: str  # set when the caller already has a server: run uses it
    state_file: Path  # what `start` leaves for `stop` and `env`
    error: type[Exception]  # what start raises when it cannot
    start: Callable[[], Node]
    stop: Callable[[Node, bool], None]  # (node, keep_logs)
    env: Callable[[Node], dict[str, str]]
    tail: Callable[[Node, int], str]
    alive: Callable[[Node], bool]
    where: Callable[[Node], str]  # "https://127.0.0.1:9200", for messages
    log: Callable[[str], None]


def cmd_run(server: Server, command: list[str], optional: bool) -> int:
    command = command[1:] if command[:1] == ["--"] else command
    if not command:
        server.log("run needs a command after --")
        return 2
    if os.environ.get(server.present_var):
        server.log(f"{server.present_var} already set; using that {server.noun}")
        return subprocess.call(command)
    try:
        node = server.start()
    except (server.error, OSError, KeyError) as exc:
        if optional:
            server.log(f"no {server.name} ({exc}); running without it")
            return subprocess.call(command)
        server.log(f"could not start {server.name}: {exc}")
        return 3

    # SIGTERM (CI cancel) must still stop the server: turn it into an exception.
    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    rc = 1
    try:
        child = subprocess.Popen(command, env={**os.environ, **server.env(node)})
        try:
            rc = child.wait()
        except KeyboardInterrupt:
            child.terminate()
            rc = child.wait()
    finally:
        failed = rc != 0
        if failed:
            tail = server.tail(node, 25)
            server.log(f"command exited with {rc}; {server.noun} log tail follows\n{tail}")
        server.stop(node, failed)
        server.log(f"{server.name} stopped")
    return rc


def _started(server: Server) -> Node | None:
    if not server.state_file.is_file():
        return None
    try:
        node: Node = json.loads(server.state_file.read_text())
    except (OSError, ValueError):
        return None
    return node


def cmd_start(server: Server) -> int:
    node = _started(server)
    if node is not None and server.alive(node):
        server.log(f"already running (pid {node['pid']}) on {server.where(node)}")
        return 0
    try:
        node = server.start()
    except server.error as exc:
        server.log(str(exc))
        return 3
    server.state_file.write_text(json.dumps(node, indent=2))
    server.state_file.chmod(0o600)
    print_env(server, node)
    return 0


def cmd_stop(server: Server) -> int:
    node = _started(server)
    if node is None:
        server.log(f"no {server.noun} started with `{server.script} start`")
        return 0
    server.stop(node, False)
    server.state_file.unlink()
    server.log(f"stopped pid {node.get('pid')}")
    return 0


def cmd_env(server: Server) -> int:
    node = _started(server)
    if node is None:
        server.log(f"no {server.noun} running; use `{server.script} start`")
        return 1
    if not server.alive(node):
        server.log(f"pid {node['pid']} is gone; run `{server.script} stop` then `start`")
        return 1
    print_env(server, node)
    return 0


def print_env(server: Server, node: Node) -> None:
    for key, value in server.env(node).items():
        print(f"export {key}={shell_quote(value)}")


def main(server: Server, description: str, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=description)
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help=f"start a {server.noun}, run CMD with its env, stop it")
    run.add_argument(
        "--optional",
        action="store_true",
        help=f"if no {server.noun} can be had, run CMD anyway (without {server.present_var})",
    )
    run.add_argument("command", nargs=argparse.REMAINDER)
    sub.add_parser("start", help=f"start a {server.noun} in the background")
    sub.add_parser("stop", help=f"stop the {server.noun} from `start`")
    sub.add_parser("env", help=f"print export lines for the running {server.noun}")
    args = parser.parse_args(argv)
    if args.action == "run":
        return cmd_run(server, args.command, args.optional)
    return {"start": cmd_start, "stop": cmd_stop, "env": cmd_env}[args.action](server)
