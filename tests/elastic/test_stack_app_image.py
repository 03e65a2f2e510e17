"""A rehearsal of the app image (elk/app/Dockerfile) without Docker.

No Docker engine runs here, so this test replays the Dockerfile by hand:
it stages exactly the files the Dockerfile COPYs into an empty directory,
installs them into a fresh virtualenv with the Dockerfile's own
``pip install`` line (on Python 3.12 like the ``python:3.12-slim`` base when
one is available), runs the image's start command (migrate, then gunicorn
with the compose service's GUNICORN_CMD_ARGS and environment), and checks
the service's health-check URL, a page and a 500 over HTTP. It also runs the
preflight and the traffic generator from that environment.

Elasticsearch is pointed at a closed local port: the package's handler must
keep the app serving when the log sink is down.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.elastic.stack_support import ELK, ROOT, filled_env, interpolate_tree
from tests.helpers.script_modules import load_module
from tests.helpers.waiting import free_port

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the compose file")

DOCKERFILE = ELK / "app" / "Dockerfile"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
elastalert_venv = load_module(
    ROOT / "tests" / "testbed" / "elastalert_venv.py", "reqlog_ea_venv_app"
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


def dockerfile_steps() -> dict[str, Any]:
    text = DOCKERFILE.read_text()
    joined = re.sub(r"\\\n\s*", " ", text)
    copies = re.findall(r"^COPY (.+)$", joined, re.M)
    pip = re.search(r"^RUN (pip install .+)$", joined, re.M)
    cmd = re.search(r'^CMD \["sh", "-c", "(.+)"\]$', joined, re.M)
    assert copies and pip and cmd
    sources = [s for line in copies for s in shlex.split(line)[:-1]]
    return {"sources": sources, "pip": shlex.split(pip.group(1)), "cmd": cmd.group(1)}


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    steps = dockerfile_steps()
    root = tmp_path_factory.mktemp("image")
    app = root / "srv" / "app"
    app.mkdir(parents=True)
    for source in steps["sources"]:
        origin = ROOT / source.rstrip("/")
        target = app / source.rstrip("/")
        if origin.is_dir():
            shutil.copytree(
                origin,
                target,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "var", "*.sqlite3"),
            )
        else:
            shutil.copy2(origin, target)
    python = elastalert_venv.find_python() or sys.executable
    venv = root / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = steps["pip"]
    assert pip[:2] == ["pip", "install"]
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *pip[2:]],
        cwd=app,
        check=True,
        timeout=1200,
    )
    return {"root": root, "app": app, "venv": venv, "cmd": steps["cmd"]}


def service_env(name: str, image: dict[str, Any], **overrides: str) -> dict[str, str]:
    environment = interpolate_tree(COMPOSE["services"][name]["environment"], filled_env())
    env = {
        "PATH": f"{image['venv'] / 'bin'}:{os.environ['PATH']}",
        "HOME": str(image["root"]),
        "REQLOG_DEMO_VAR_DIR": str(image["root"] / "var"),
        **{k: str(v) for k, v in environment.items()},
        **overrides,
    }
    return env


def test_dockerfile_copies_what_the_package_needs() -> None:
    steps = dockerfile_steps()
    assert steps["sources"] == [
        "setup.cfg",
        "pyproject.toml",
        "README.md",
        "django_reqlog",
        "example_project",
    ]
    assert "gunicorn" in " ".join(steps["pip"]) and ".[elasticsearch,orjson]" in steps["pip"]


def test_app_starts_serves_and_survives_a_dead_log_sink(image: dict[str, Any]) -> None:
    port = free_port()
    env = service_env(
        "app",
        image,
        # Same arguments as the compose service, on a free loopback port.
        GUNICORN_CMD_ARGS=re.sub(
            r"--bind \S+",
            f"--bind 127.0.0.1:{port}",
            COMPOSE["services"]["app"]["environment"]["GUNICORN_CMD_ARGS"],
        ),
        REQLOG_ELASTICSEARCH_URL=f"http://127.0.0.1:{free_port()}",
    )
    workdir = image["app"] / "example_project"
    server = subprocess.Popen(
        ["sh", "-c", image["cmd"]],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        health = COMPOSE["services"]["app"]["healthcheck"]["test"][-1]
        path = re.search(r"localhost:8000(/[^'\"]*)", health).group(1)  # type: ignore[union-attr]
        deadline = time.monotonic() + 120
        status = 0
        while time.monotonic() < deadline and server.poll() is None:
            try:
                status = get(f"http://127.0.0.1:{port}{path}")
            except OSError:
                status = 0
            if status == 200:
                break
            time.sleep(0.5)
        assert status == 200, server.stdout.read().decode() if server.poll() is not None else status  # type: ignore[union-attr]
        assert get(f"http://127.0.0.1:{port}/") == 200
        assert get(f"http://127.0.0.1:{port}/api/boom/") == 500
        assert get(f"http://127.0.0.1:{port}/api/items/") == 200

        traffic = subprocess.run(
            [str(image["venv"] / "bin" / "python"), str(ELK / "app" / "traffic.py")],
            env={
                **service_env("traffic", image),
                "TRAFFIC_TARGET": f"http://127.0.0.1:{port}",
                "TRAFFIC_RATE": "20",
                "TRAFFIC_SECONDS": "3",
                "TRAFFIC_ERROR_RATIO": "0.2",
                "TRAFFIC_STATE_DIR": str(image["root"] / "traffic"),
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        done = traffic.stdout.strip().splitlines()[-1]
        assert done.startswith("traffic: done"), traffic.stdout
        assert "200:" in done and "500:" in done
        assert not re.search(r"[{ ]0:", done), "the generator could not connect"
        beat = subprocess.run(
            [
                str(image["venv"] / "bin" / "python"),
                str(ELK / "app" / "traffic.py"),
                "--healthcheck",
            ],
            env={"TRAFFIC_STATE_DIR": str(image["root"] / "traffic")},
            check=False,
        )
        assert beat.returncode == 0
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def test_preflight_runs_in_the_image(image: dict[str, Any]) -> None:
    preflight = [
        str(image["venv"] / "bin" / "python"),
        str(ELK / "setup" / "setup.py"),
        "--preflight",
    ]
    ok = subprocess.run(
        preflight, env=service_env("preflight", image), capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        preflight,
        env=service_env("preflight", image, ELASTIC_PASSWORD="changeme"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1 and "ELASTIC_PASSWORD is a placeholder" in bad.stderr


def test_reqlog_setup_command_exists_in_the_image(image: dict[str, Any]) -> None:
    # The setup service runs this command; it must be installed and importable.
    command = [str(image["venv"] / "bin" / "python"), "manage.py", "reqlog_setup", "--help"]
    result = subprocess.run(
        command,
        cwd=image["app"] / "example_project",
        env=service_env("setup", image),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "reqlog_setup" in result.stdout
