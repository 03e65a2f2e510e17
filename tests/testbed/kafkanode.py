#!/usr/bin/env python3
"""Run a real, throw-away Apache Kafka broker for the test suite.

Usage::

    python tests/testbed/kafkanode.py run [--optional] -- CMD...   # start, run CMD, stop
    python tests/testbed/kafkanode.py start                        # start and leave running
    python tests/testbed/kafkanode.py env                          # `export ...` lines for it
    python tests/testbed/kafkanode.py stop                         # stop it by PID

The broker is Apache Kafka's own, published on Maven Central as
``org.apache.kafka:kafka_2.13``. Its runtime dependencies are fetched with
``mvn dependency:copy-dependencies`` from a generated pom into
``.cache/kafka/`` (git-ignored), once per version. It runs as a single
KRaft node (broker and controller in one JVM, ``java -cp 'lib/*'
kafka.Kafka``) on 127.0.0.1, with three listeners on free ports:

* PLAINTEXT, for most tests;
* SASL_SSL with a self-signed certificate (made once with the JDK's
  ``keytool``) and the SASL mechanisms PLAIN and SCRAM-SHA-512, for a user
  whose password is made at random per cache;
* CONTROLLER, for the node's own KRaft quorum.

Every run gets its own config, data and log directory. The command is given
``REQLOG_TEST_KAFKA_*`` variables (see ``node_env``), among them
``REQLOG_TEST_KAFKA_NODE``: the node's state file, through which a test can
stop and restart the same broker on the same port and log directory
(``stop_broker`` / ``start_broker`` below); the runner reads it back to stop
whatever process is current. Logs are kept when the command fails.

Only the standard library is used (with nodecli.py beside it, the command
line and process handling it shares with esnode.py): this script runs before
any virtualenv package is importable in CI.

Environment knobs: REQLOG_KAFKA_VERSION (default below), REQLOG_KAFKA_HEAP
(default 384m), REQLOG_KAFKA_JAVA_HOME, REQLOG_KAFKA_START_TIMEOUT seconds
(default 120), REQLOG_KAFKA_CACHE_DIR (default .cache/kafka).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import nodecli
from nodecli import free_port, group_alive, java_major

# The newest 4.x on Maven Central here; docker-compose.yml's apache/kafka
# image is pinned to the same version (tests/elastic/test_stack_compose.py checks).
DEFAULT_VERSION = "4.4.0"
GROUP_ARTIFACT = "org.apache.kafka:kafka_2.13"
LOG4J_GROUP = "org.apache.logging.log4j"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("REQLOG_KAFKA_CACHE_DIR") or REPO_ROOT / ".cache" / "kafka")
STATE_FILE = CACHE / "node.json"

SASL_USER = "reqlog"
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-512")
PARTITIONS = 3

POM = """\
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.reqlog</groupId>
  <artifactId>kafka-testbed</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{version}</version>
    </dependency>
  </dependencies>
</project>
"""

# One file appender; the console gets only what the JVM itself prints.
LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = org.apache.kafka
logger.kafka.level = INFO
"""


def log(msg: str) -> None:
    print(f"[kafkanode] {msg}", file=sys.stderr, flush=True)


class NodeError(RuntimeError):
    pass


# --------------------------------------------------------------------------- obtaining


def pick_java() -> Path:
    """The newest installed JDK from 17 to 25 (Kafka 4.x brokers need 17+)."""
    explicit = os.environ.get("REQLOG_KAFKA_JAVA_HOME")
    if explicit:
        return Path(explicit)
    usable = nodecli.installed_jdks(("JAVA_HOME",))
    java = nodecli.newest_jdk(usable, 17, 25)
    if java is None:
        raise NodeError(
            f"Kafka needs a JDK 17-25; found {[(m, str(p)) for m, p in usable]}. "
            "Set REQLOG_KAFKA_JAVA_HOME."
        )
    return java


def _mvn(args: list[str], cwd: Path, what: str) -> None:
    mvn = shutil.which("mvn")
    if not mvn:
        raise NodeError("Maven (mvn) is not installed; it is needed to fetch Kafka")
    # Run from the cache so Maven never picks up a pom.xml from the caller's cwd.
    proc = subprocess.run(
        [mvn, "-B", "-q", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
        raise NodeError(f"mvn could not fetch {what}:\n{tail}")


def fetch_libs(version: str) -> Path:
    """``.cache/kafka/dist/<version>/lib``: the broker and its runtime dependencies."""
    home = CACHE / "dist" / version
    lib = home / "lib"
    if (lib / f"kafka_2.13-{version}.jar").is_file():
        return lib
    staging = CACHE / "dist" / f".staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / "pom.xml").write_text(POM.format(version=version))
    log(f"fetching {GROUP_ARTIFACT}:{version} and its runtime dependencies (~45 MB)")
    _mvn(
        [
            f"{DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging / 'lib'}",
        ],
        staging,
        f"Kafka {version}",
    )
    # The broker logs through SLF4J 1.x but does not depend on a binding:
    # add log4j's, at the log4j-core version Maven resolved, so it logs at all.
    core = sorted((staging / "lib").glob("log4j-core-*.jar"))
    if core:
        log4j_version = core[-1].name.removeprefix("log4j-core-").removesuffix(".jar")
        _mvn(
            [
                f"{DEPENDENCY_PLUGIN}:copy",
                f"-Dartifact={LOG4J_GROUP}:log4j-slf4j-impl:{log4j_version}",
                f"-DoutputDirectory={staging / 'lib'}",
            ],
            staging,
            "the log4j SLF4J binding",
        )
    # Rename into place last so an interrupted fetch is never mistaken for a good one.
    shutil.rmtree(home, ignore_errors=True)
    staging.rename(home)
    return lib


# --------------------------------------------------------------------------- configuring


def prepare_security(java: Path) -> dict[str, str]:
    """A self-signed PKCS#12 keystore, its certificate as PEM and a SASL password."""
    sec = CACHE / "security"
    info_file = sec / "credentials.json"
    if info_file.is_file():
        info: dict[str, str] = json.loads(info_file.read_text())
        if Path(info["ca_certs"]).is_file() and Path(info["keystore"]).is_file():
            return info
    shutil.rmtree(sec, ignore_errors=True)
    sec.mkdir(parents=True)
    store_password = secrets.token_urlsafe(18)
    keystore, pem = sec / "broker.p12", sec / "ca.pem"
    keytool = str(java / "bin" / "keytool")
    common = ["-keystore", str(keystore), "-storetype", "PKCS12", "-storepass", store_password]
    for args in (
        [
            "-genkeypair",
            "-alias",
            "broker",
            "-keyalg",
            "RSA",
            "-keysize",
            "2048",
            "-validity",
            "3650",
            "-dname",
            "CN=localhost",
            "-ext",
            "SAN=dns:localhost,ip:127.0.0.1",
            "-keypass",
            store_password,
            *common,
        ],
        ["-exportcert", "-rfc", "-alias", "broker", "-file", str(pem), *common],
    ):
        proc = subprocess.run(
            [keytool, *args, "-noprompt"], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise NodeError(f"keytool failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
    info = {
        "keystore": str(keystore),
        "store_password": store_password,
        "ca_certs": str(pem),
        "sasl_password": secrets.token_urlsafe(18),
    }
    info_file.write_text(json.dumps(info))
    info_file.chmod(0o600)
    return info


def server_properties(node: dict[str, Any]) -> str:
    port, sasl_port, controller = node["port"], node["sasl_port"], node["controller_port"]
    password = node["sasl_password"]
    plain_jaas = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'user_{SASL_USER}="{password}";'
    )
    lines = [
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@127.0.0.1:{controller}",
        "controller.listener.names=CONTROLLER",
        f"listeners=PLAINTEXT://127.0.0.1:{port},SASL_SSL://127.0.0.1:{sasl_port},"
        f"CONTROLLER://127.0.0.1:{controller}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{port},SASL_SSL://127.0.0.1:{sasl_port}",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
        f"sasl.enabled.mechanisms={','.join(SASL_MECHANISMS)}",
        f"listener.name.sasl_ssl.plain.sasl.jaas.config={plain_jaas}",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
        "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        f"listener.name.sasl_ssl.ssl.keystore.location={node['keystore']}",
        "listener.name.sasl_ssl.ssl.keystore.type=PKCS12",
        f"listener.name.sasl_ssl.ssl.keystore.password={node['store_password']}",
        f"listener.name.sasl_ssl.ssl.key.password={node['store_password']}",
        f"log.dirs={Path(node['instance']) / 'data'}",
        f"num.partitions={PARTITIONS}",
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        # Shared CI disks are small: keep the logs' preallocation and retention modest.
        "log.segment.bytes=67108864",
        "log.retention.hours=24",
    ]
    return "\n".join(lines) + "\n"


def cluster_id() -> str:
    """A KRaft cluster id in Kafka's own format (base64url of 16 random bytes).

    Like Kafka's ``Uuid.randomUuid``, never one that starts with ``-``: the
    storage tool's argument parser would read it as an option (one id in 64).
    """
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


def write_instance(lib: Path, java: Path, version: str, heap: str) -> dict[str, Any]:
    instance = CACHE / "instances" / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    for sub in ("config", "data", "logs"):
        (instance / sub).mkdir(parents=True)
    node: dict[str, Any] = {
        "instance": str(instance),
        "version": version,
        "java": str(java),
        "lib": str(lib),
        "heap": heap,
        "port": free_port(),
        "sasl_port": free_port(),
        "controller_port": free_port(),
        "state_file": str(instance / "node.json"),
        **prepare_security(java),
    }
    node["bootstrap"] = f"127.0.0.1:{node['port']}"
    node["sasl_bootstrap"] = f"127.0.0.1:{node['sasl_port']}"
    (instance / "config" / "server.properties").write_text(server_properties(node))
    (instance / "config" / "server.properties").chmod(0o600)
    (instance / "config" / "log4j2.properties").write_text(LOG4J2)
    return node


def java_command(node: dict[str, Any], main: str, *args: str) -> list[str]:
    instance = Path(node["instance"])
    return [
        str(Path(node["java"]) / "bin" / "java"),
        f"-Xms{node['heap']}",
        f"-Xmx{node['heap']}",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dkafka.logs.dir={instance / 'logs'}",
        f"-Dlog4j2.configurationFile={instance / 'config' / 'log4j2.properties'}",
        "-cp",
        str(Path(node["lib"]) / "*"),
        main,
        *args,
    ]


def format_storage(node: dict[str, Any]) -> None:
    scram = f"SCRAM-SHA-512=[name={SASL_USER},password={node['sasl_password']}]"
    command = java_command(
        node,
        "kafka.tools.StorageTool",
        "format",
        "--cluster-id",
        cluster_id(),
        "--config",
        str(Path(node["instance"]) / "config" / "server.properties"),
        "--add-scram",
        scram,
    )
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise NodeError(f"formatting the storage failed: {proc.stdout}{proc.stderr}")


# --------------------------------------------------------------------------- running


def api_versions_ok(port: int, timeout: float = 2.0) -> bool:
    """One ApiVersions v0 round trip on the PLAINTEXT listener: the broker answers."""
    client_id = b"reqlog-kafkanode"
    body = struct.pack(">hhih", 18, 0, 7, len(client_id)) + client_id
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = _recv_exact(sock, 4)
            size = struct.unpack(">i", header)[0]
            reply = _recv_exact(sock, size)
    except OSError:
        return False
    correlation, error = struct.unpack(">ih", reply[:6])
    return correlation == 7 and error == 0


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    return data


def log_tail(node: dict[str, Any], lines: int = 60) -> str:
    return nodecli.tail_files(Path(node["instance"]), ("console.log", "logs/server.log"), lines)


def load(state_file: str | os.PathLike[str]) -> dict[str, Any]:
    node: dict[str, Any] = json.loads(Path(state_file).read_text())
    return node


def start_broker(node: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
    """Start the broker of an existing instance (same ports, same log directory)."""
    timeout = timeout if timeout is not None else start_timeout()
    t0 = time.monotonic()
    instance = Path(node["instance"])
    proc = nodecli.spawn_group(
        java_command(node, "kafka.Kafka", str(instance / "config" / "server.properties")),
        instance,
    )
    node["pid"] = proc.pid
    nodecli.save_node(node)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise NodeError(
                f"Kafka exited with {proc.returncode} while starting\n" + log_tail(node)
            )
        if api_versions_ok(int(node["port"])):
            node["startup_seconds"] = round(time.monotonic() - t0, 1)
            nodecli.save_node(node)
            return node
        time.sleep(0.2)
    raise NodeError(f"Kafka did not answer within {timeout:.0f}s\n" + log_tail(node))


def stop_broker(node: dict[str, Any]) -> None:
    """Stop the broker by its process group; the instance directory stays."""
    nodecli.stop_group(int(node["pid"]), log, resume=True)  # a test may have frozen it


def start_node(version: str, heap: str, timeout: float) -> dict[str, Any]:
    t0 = time.monotonic()
    with nodecli.cache_lock(CACHE):
        lib = fetch_libs(version)
        java = pick_java()
        node = write_instance(lib, java, version, heap)
        nodecli.prune_instances(CACHE / "instances", STATE_FILE)
    prepared = time.monotonic() - t0
    if prepared > 1:  # only a first run fetches jars and makes the keystore
        log(f"jars and keystore ready after {prepared:.1f}s")
    try:
        format_storage(node)
        start_broker(node, timeout)
    except BaseException:
        if "pid" in node:
            stop_broker(node)
        log(f"keeping node files for inspection: {node['instance']}")
        raise
    node["startup_seconds"] = round(time.monotonic() - t0, 1)
    nodecli.save_node(node)
    log(
        f"Kafka {version} (pid {node['pid']}, java {java_major(java)}, heap {heap}) "
        f"answering on {node['bootstrap']} (SASL_SSL {node['sasl_bootstrap']}) "
        f"after {node['startup_seconds']}s"
    )
    return node


def current(node: dict[str, Any]) -> dict[str, Any]:
    """The node as its state file has it now: a test may have restarted the broker."""
    try:
        return load(node["state_file"])
    except (OSError, ValueError):
        return node


def stop_node(node: dict[str, Any], keep_logs: bool = False) -> None:
    node = current(node)
    stop_broker(node)
    nodecli.keep_or_remove(node["instance"], keep_logs, log)


def node_env(node: dict[str, Any]) -> dict[str, str]:
    return {
        "REQLOG_TEST_KAFKA_BOOTSTRAP": node["bootstrap"],
        "REQLOG_TEST_KAFKA_SASL_BOOTSTRAP": node["sasl_bootstrap"],
        "REQLOG_TEST_KAFKA_SASL_USERNAME": SASL_USER,
        "REQLOG_TEST_KAFKA_SASL_PASSWORD": node["sasl_password"],
        "REQLOG_TEST_KAFKA_CA_CERTS": node["ca_certs"],
        "REQLOG_TEST_KAFKA_VERSION": node["version"],
        "REQLOG_TEST_KAFKA_NODE": node["state_file"],
        "REQLOG_TEST_KAFKA_REQUIRED": "1",
    }


# --------------------------------------------------------------------------- commands


def start_timeout() -> float:
    return float(os.environ.get("REQLOG_KAFKA_START_TIMEOUT", "120"))


def options() -> tuple[str, str, float]:
    version = os.environ.get("REQLOG_KAFKA_VERSION", DEFAULT_VERSION)
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise SystemExit(f"REQLOG_KAFKA_VERSION must look like 4.4.0, got {version!r}")
    heap = os.environ.get("REQLOG_KAFKA_HEAP", "384m")
    return version, heap, start_timeout()


SERVER = nodecli.Server(
    name="Kafka",
    noun="broker",
    script="kafkanode.py",
    present_var="REQLOG_TEST_KAFKA_BOOTSTRAP",
    state_file=STATE_FILE,
    error=NodeError,
    start=lambda: start_node(*options()),
    stop=stop_node,
    env=node_env,
    tail=log_tail,
    alive=lambda node: group_alive(int(current(node)["pid"])),
    where=lambda node: str(node["bootstrap"]),
    log=log,
)


if __name__ == "__main__":
    sys.exit(nodecli.main(SERVER, __doc__.split("\n\n")[0]))
