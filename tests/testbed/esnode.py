#!/usr/bin/env python3
"""Run a real, throw-away Elasticsearch node for the test suite.

Usage::

    python tests/testbed/esnode.py run [--optional] -- CMD...   # start, run CMD, stop
    python tests/testbed/esnode.py start                        # start and leave running
    python tests/testbed/esnode.py env                          # `export ...` lines for it
    python tests/testbed/esnode.py stop                         # stop it by PID

The engine is Elastic's own minimal distribution, published on Maven Central as
``org.elasticsearch.distribution.integ-test-zip:elasticsearch``. It is fetched
with ``mvn dependency:copy`` into ``.cache/elasticsearch/`` (git-ignored),
unzipped once, and every node gets its own config/data/logs directory, so a
crashed run never poisons the next one.

That distribution carries only four modules (transport-netty4, x-pack-core,
x-pack-security, apm). Security works with the file realm: we create a
superuser and a least-privilege writer with ``elasticsearch-users`` and serve
HTTPS with a CA made by ``elasticsearch-certutil``. What it lacks (ILM, the
data stream REST API, ingest processors, analysis-common, and therefore the
``.security`` index that API keys need) is described in the README.

Only the standard library is used (with nodecli.py beside it, the command
line and process handling it shares with kafkanode.py): this script runs
before any virtualenv package is importable in CI.

Environment knobs: REQLOG_ES_VERSION (default below), REQLOG_ES_HEAP
(default 512m), REQLOG_ES_JAVA_HOME, REQLOG_ES_TLS=0 to serve plain HTTP,
REQLOG_ES_START_TIMEOUT seconds (default 180), REQLOG_ES_RUN_AS (user to drop
to when started as root; Elasticsearch refuses to run as root),
REQLOG_ES_CACHE_DIR (default .cache/elasticsearch).
"""

from __future__ import annotations

import base64
import json
import os
import pwd
import secrets
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import nodecli
from nodecli import free_port, group_alive, java_major

# 9.2.0 is the newest integ-test-zip this machine's Maven Central reaches
# (9.2.1-9.2.3, 9.3.0, 9.4.0 and 9.5.1 are not published there); 8.19.21 is
# the newest 8.x and the second supported target.
DEFAULT_VERSION = "9.2.0"
GROUP_ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("REQLOG_ES_CACHE_DIR") or REPO_ROOT / ".cache" / "elasticsearch")
STATE_FILE = CACHE / "node.json"

SUPERUSER = "reqlog_admin"
WRITER = "reqlog_writer"
# The writer may only append to our data stream (and its fallback alias): the
# same privileges a production shipper needs, so permission errors surface in tests.
ROLES_YML = """\
reqlog_writer:
  cluster: ["monitor"]
  indices:
    - names: ["logs-django.reqlog-*", "reqlog-*"]
      privileges: ["create_doc", "auto_configure", "view_index_metadata", "read"]
"""


def log(msg: str) -> None:
    print(f"[esnode] {msg}", file=sys.stderr, flush=True)


class NodeError(RuntimeError):
    pass


# --------------------------------------------------------------------------- obtaining


def pick_java(version: str) -> Path:
    """The newest JDK the Elasticsearch version supports (9.x: 21+, 8.x: 17-24)."""
    major = int(version.split(".", maxsplit=1)[0])
    low, high = (21, 99) if major >= 9 else (17, 24)
    explicit = os.environ.get("REQLOG_ES_JAVA_HOME")
    if explicit:
        return Path(explicit)
    usable = nodecli.installed_jdks(("ES_JAVA_HOME", "JAVA_HOME"))
    java = nodecli.newest_jdk(usable, low, high)
    if java is None:
        raise NodeError(
            f"Elasticsearch {version} needs a JDK {low}-{high}; found "
            f"{[(m, str(p)) for m, p in usable]}. Set REQLOG_ES_JAVA_HOME."
        )
    return java


def fetch_zip(version: str) -> Path:
    downloads = CACHE / "downloads"
    target = downloads / f"elasticsearch-{version}.zip"
    if target.is_file() and zipfile.is_zipfile(target):
        return target
    mvn = shutil.which("mvn")
    if not mvn:
        raise NodeError("Maven (mvn) is not installed; it is needed to fetch Elasticsearch")
    downloads.mkdir(parents=True, exist_ok=True)
    log(f"fetching {GROUP_ARTIFACT}:{version}:zip from Maven Central (~100 MB)")
    cmd = [
        mvn,
        "-B",
        "-q",
        f"{DEPENDENCY_PLUGIN}:copy",
        f"-Dartifact={GROUP_ARTIFACT}:{version}:zip",
        f"-DoutputDirectory={downloads}",
    ]
    # Run from the cache so Maven never picks up a pom.xml from the caller's cwd.
    proc = subprocess.run(cmd, cwd=downloads, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not target.is_file():
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
        raise NodeError(f"mvn could not fetch Elasticsearch {version}:\n{tail}")
    return target


def unpack(version: str) -> Path:
    home = CACHE / "dist" / f"elasticsearch-{version}"
    if (home / "bin" / "elasticsearch").is_file():
        return home
    archive = fetch_zip(version)
    staging = CACHE / "dist" / f".staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    log(f"unpacking {archive.name}")
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            zf.extract(info, staging)
            mode = (info.external_attr >> 16) & 0o777
            if mode:  # zipfile drops permission bits; bin/ scripts must stay executable
                os.chmod(staging / info.filename, mode)
    # Rename into place last so an interrupted unzip is never mistaken for a good one.
    shutil.rmtree(home, ignore_errors=True)
    (staging / f"elasticsearch-{version}").rename(home)
    shutil.rmtree(staging, ignore_errors=True)
    return home


# --------------------------------------------------------------------------- configuring


def run_as_user() -> pwd.struct_passwd | None:
    """Elasticsearch refuses to run as root, so root drops to an unprivileged user."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam(os.environ.get("REQLOG_ES_RUN_AS", "nobody"))


def es_tool(home: Path, java: Path, conf: Path, *args: str, stdin: str | None = None) -> str:
    env = {
        **os.environ,
        "ES_JAVA_HOME": str(java),
        "ES_PATH_CONF": str(conf),
        "ES_JAVA_OPTS": "-Xms64m -Xmx256m",
    }
    proc = subprocess.run(
        [str(home / "bin" / args[0]), *args[1:]],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise NodeError(f"{args[0]} failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
    return proc.stdout


def prepare_security(home: Path, java: Path, version: str, tls: bool) -> dict[str, str]:
    """Users, roles and certificates, made once per cache and version (a few JVM starts)."""
    sec = CACHE / "security" / version
    info_file = sec / "credentials.json"
    if info_file.is_file():
        info: dict[str, str] = json.loads(info_file.read_text())
        if not tls or (sec / "certs" / "ca" / "ca.crt").is_file():
            return info
    shutil.rmtree(sec, ignore_errors=True)
    conf = sec / "config"
    shutil.copytree(home / "config", conf)
    (conf / "roles.yml").write_text(ROLES_YML)
    info = {
        "admin_password": secrets.token_urlsafe(18),
        "writer_password": secrets.token_urlsafe(18),
    }
    es_tool(
        home,
        java,
        conf,
        "elasticsearch-users",
        "useradd",
        SUPERUSER,
        "-p",
        info["admin_password"],
        "-r",
        "superuser",
    )
    es_tool(
        home,
        java,
        conf,
        "elasticsearch-users",
        "useradd",
        WRITER,
        "-p",
        info["writer_password"],
        "-r",
        "reqlog_writer",
    )
    if tls:
        certs = sec / "certs"
        certs.mkdir()
        es_tool(
            home,
            java,
            conf,
            "elasticsearch-certutil",
            "ca",
            "--silent",
            "--pem",
            "--out",
            str(certs / "ca.zip"),
        )
        with zipfile.ZipFile(certs / "ca.zip") as zf:
            zf.extractall(certs)
        es_tool(
            home,
            java,
            conf,
            "elasticsearch-certutil",
            "cert",
            "--silent",
            "--pem",
            "--ca-cert",
            str(certs / "ca" / "ca.crt"),
            "--ca-key",
            str(certs / "ca" / "ca.key"),
            "--name",
            "node",
            "--ip",
            "127.0.0.1",
            "--dns",
            "localhost",
            "--out",
            str(certs / "node.zip"),
        )
        with zipfile.ZipFile(certs / "node.zip") as zf:
            zf.extractall(certs)
    info_file.write_text(json.dumps(info))
    return info


def write_instance(home: Path, version: str, tls: bool, heap: str) -> dict[str, Any]:
    instance = CACHE / "instances" / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    conf, data, logs, tmp = (instance / d for d in ("config", "data", "logs", "tmp"))
    sec = CACHE / "security" / version
    shutil.copytree(sec / "config", conf)
    for d in (data, logs, tmp):
        d.mkdir(parents=True)
    http_port, transport_port = free_port(), free_port()
    settings = [
        "cluster.name: reqlog-test",
        "node.name: reqlog-test-node",
        "network.host: 127.0.0.1",
        f"http.port: {http_port}",
        f"transport.port: {transport_port}",
        "discovery.type: single-node",
        f"path.data: {data}",
        f"path.logs: {logs}",
        # Shared CI disks are often >90 % full; the watermarks would block writes.
        "cluster.routing.allocation.disk.threshold_enabled: false",
        "xpack.security.enabled: true",
        # Loopback only, single node: transport TLS is not required (dev mode).
        "xpack.security.transport.ssl.enabled: false",
    ]
    if tls:
        certs_dir = conf / "certs"
        shutil.copytree(sec / "certs", certs_dir)
        settings += [
            "xpack.security.http.ssl.enabled: true",
            "xpack.security.http.ssl.key: certs/node/node.key",
            "xpack.security.http.ssl.certificate: certs/node/node.crt",
            "xpack.security.http.ssl.certificate_authorities: [certs/ca/ca.crt]",
        ]
    else:
        settings.append("xpack.security.http.ssl.enabled: false")
    (conf / "elasticsearch.yml").write_text("\n".join(settings) + "\n")
    # Heap: the jvm.options.d drop-in wins over defaults and keeps ES_JAVA_OPTS free.
    (conf / "jvm.options.d").mkdir(exist_ok=True)
    (conf / "jvm.options.d" / "heap.options").write_text(f"-Xms{heap}\n-Xmx{heap}\n")
    user = run_as_user()
    if user is not None:
        for path in [instance, *instance.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid)
    scheme = "https" if tls else "http"
    return {
        "instance": str(instance),
        "http_port": http_port,
        "url": f"{scheme}://127.0.0.1:{http_port}",
        "ca_certs": str(sec / "certs" / "ca" / "ca.crt") if tls else "",
    }


# --------------------------------------------------------------------------- running


def request(node: dict[str, Any], path: str, timeout: float = 5.0) -> Any:
    token = base64.b64encode(f"{SUPERUSER}:{node['admin_password']}".encode()).decode()
    req = urllib.request.Request(node["url"] + path, headers={"Authorization": f"Basic {token}"})
    context = ssl.create_default_context(cafile=node["ca_certs"]) if node["ca_certs"] else None
    with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
        return json.loads(resp.read())


def log_tail(node: dict[str, Any], lines: int = 60) -> str:
    return nodecli.tail_files(
        Path(node["instance"]), ("console.log", "logs/reqlog-test.log"), lines
    )


def start_node(version: str, tls: bool, heap: str, timeout: float) -> dict[str, Any]:
    t0 = time.monotonic()
    with nodecli.cache_lock(CACHE):
        home = unpack(version)
        java = pick_java(version)
        creds = prepare_security(home, java, version, tls)
        nodecli.prune_instances(CACHE / "instances", STATE_FILE)
    prepared = time.monotonic() - t0
    if prepared > 1:  # only a first run downloads, unzips and makes users/certificates
        log(f"distribution and security files ready after {prepared:.1f}s")
    node = {
        **write_instance(home, version, tls, heap),
        **creds,
        "version": version,
        "java": str(java),
        "heap": heap,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ES_", "JAVA_"))}
    env.update(
        ES_JAVA_HOME=str(java),
        ES_PATH_CONF=str(Path(node["instance"]) / "config"),
        ES_TMPDIR=str(Path(node["instance"]) / "tmp"),
    )
    user = run_as_user()
    console = open(Path(node["instance"]) / "console.log", "wb")  # noqa: SIM115
    kwargs: dict[str, Any] = {}
    if user is not None:
        kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        env["HOME"] = node["instance"]
    # A new session makes the launcher and the server JVM it forks one process
    # group, so stopping by the launcher's PID reaches both.
    proc = subprocess.Popen(
        [str(home / "bin" / "elasticsearch")],
        env=env,
        cwd=node["instance"],
        stdin=subprocess.DEVNULL,
        stdout=console,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        **kwargs,
    )
    console.close()
    node["pid"] = proc.pid
    log(
        f"starting Elasticsearch {version} (pid {proc.pid}, java {java_major(java)}, "
        f"heap {heap}) on {node['url']}"
    )
    try:
        wait_healthy(node, proc, timeout)
        node["startup_seconds"] = round(time.monotonic() - t0, 1)
        # GET / lives in the rest-root module, which this distribution lacks.
        versions = request(node, "/_nodes/_local?filter_path=nodes.*.version")["nodes"]
        node["server_version"] = next(iter(versions.values()))["version"]
    except BaseException:
        stop_node(node, keep_logs=True)
        raise
    log(f"Elasticsearch {node['server_version']} healthy after {node['startup_seconds']}s")
    return node


def wait_healthy(node: dict[str, Any], proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise NodeError(
                f"Elasticsearch exited with {proc.returncode} while starting\n" + log_tail(node)
            )
        try:
            health = request(node, "/_cluster/health?wait_for_status=yellow&timeout=2s")
            if health.get("status") in ("green", "yellow"):
                return
        except (OSError, ValueError) as exc:  # URLError is an OSError
            last_error = exc
        time.sleep(0.5)
    raise NodeError(
        f"Elasticsearch not healthy after {timeout:.0f}s ({last_error})\n" + log_tail(node)
    )


def stop_node(node: dict[str, Any], keep_logs: bool = False) -> None:
    nodecli.stop_group(int(node["pid"]), log)
    nodecli.keep_or_remove(node["instance"], keep_logs, log)


def node_env(node: dict[str, Any]) -> dict[str, str]:
    return {
        "REQLOG_TEST_ES_URL": node["url"],
        "REQLOG_TEST_ES_USERNAME": SUPERUSER,
        "REQLOG_TEST_ES_PASSWORD": node["admin_password"],
        "REQLOG_TEST_ES_CA_CERTS": node["ca_certs"],
        "REQLOG_TEST_ES_VERSION": node["server_version"],
        # A least-privilege user (create_doc on logs-django.reqlog-*) for handler tests.
        "REQLOG_TEST_ES_WRITER_USERNAME": WRITER,
        "REQLOG_TEST_ES_WRITER_PASSWORD": node["writer_password"],
        "REQLOG_TEST_ES_REQUIRED": "1",
    }


# --------------------------------------------------------------------------- commands


def options() -> tuple[str, bool, str, float]:
    version = os.environ.get("REQLOG_ES_VERSION", DEFAULT_VERSION)
    tls = os.environ.get("REQLOG_ES_TLS", "1") not in ("0", "false", "no")
    heap = os.environ.get("REQLOG_ES_HEAP", "512m")
    timeout = float(os.environ.get("REQLOG_ES_START_TIMEOUT", "180"))
    return version, tls, heap, timeout


SERVER = nodecli.Server(
    name="Elasticsearch",
    noun="node",
    script="esnode.py",
    present_var="REQLOG_TEST_ES_URL",
    state_file=STATE_FILE,
    error=NodeError,
    start=lambda: start_node(*options()),
    stop=stop_node,
    env=node_env,
    tail=log_tail,
    alive=lambda node: group_alive(int(node["pid"])),
    where=lambda node: str(node["url"]),
    log=log,
)


if __name__ == "__main__":
    sys.exit(nodecli.main(SERVER, __doc__.split("\n\n")[0]))
