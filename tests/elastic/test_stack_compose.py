"""docker-compose.yml, .env.example and the setup service, checked offline.

No Docker engine runs here. What is validated:
- the compose file, raw and after Compose-style interpolation with the values
  of a filled-in .env, against the Compose Specification's JSON schema;
- our security rules: ports bound to 127.0.0.1, every secret required
  (``${VAR:?}``) with no default, no ``changeme`` anywhere, basic license,
  Kibana encryption keys wired, the preflight gate in front of the stack;
- operability: a health check on every service, named volumes for every
  stateful service, read-only bind mounts of files that exist;
- version pins agree with the test bed and the ElastAlert2 virtualenv;
- the setup script's secret checks and its JSON inputs;
- the optional Kafka profile: the broker's listeners and SASL users, and the
  Logstash pipelines file that adds the Kafka pipeline;
- the optional Filebeat profile: its image, user, read-only view of the app's
  log volume and the paths it reads (its configuration file is checked in
  tests/elastic/test_filebeat_config.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import PurePosixPath
from typing import Any

import jsonschema
import pytest

from django_reqlog.elastic import kibana
from tests.elastic.stack_support import (
    ELK,
    ROOT,
    SAVED_OBJECTS,
    MissingVariable,
    compose_schema,
    filled_env,
    interpolate_tree,
    read_env_file,
    tree_strings,
    variables,
)
from tests.helpers.script_modules import load_module

# PyYAML belongs in the dev extras; without it these tests cannot read the files.
yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the compose/rule files")

COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
COMPOSE_TEXT = COMPOSE_FILE.read_text(encoding="utf-8")
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
setup_script = load_module(ELK / "setup" / "setup.py", "reqlog_stack_setup")
esnode = load_module(ROOT / "tests" / "testbed" / "esnode.py", "reqlog_esnode")
elastalert_venv = load_module(ROOT / "tests" / "testbed" / "elastalert_venv.py", "reqlog_ea_venv")
kafkanode = load_module(ROOT / "tests" / "testbed" / "kafkanode.py", "reqlog_kafkanode")

SECRETS = setup_script.SECRET_VARS


def interpolated() -> dict[str, Any]:
    return interpolate_tree(COMPOSE, filled_env())  # type: ignore[no-any-return]


# ------------------------------------------------------------ schema


@pytest.mark.parametrize("document", ["raw", "interpolated"])
def test_compose_file_matches_the_compose_specification_schema(document: str) -> None:
    schema = compose_schema()
    data = COMPOSE if document == "raw" else interpolated()
    validator = jsonschema.Draft201909Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    assert [f"{list(e.absolute_path)}: {e.message}" for e in errors] == []


def test_schema_rejects_a_broken_compose_file() -> None:
    # The validation above is only meaningful if the schema bites.
    broken = json.loads(json.dumps(COMPOSE))
    broken["services"]["elasticsearch"]["healthcheck"]["intervall"] = "10s"
    broken["services"]["kibana"]["ports"] = {"5601": 5601}
    errors = list(jsonschema.Draft201909Validator(compose_schema()).iter_errors(broken))
    assert len(errors) >= 2


def test_expected_services() -> None:
    assert set(SERVICES) == {
        "preflight",
        "elasticsearch",
        "setup",
        "kibana",
        "logstash",
        "elastalert",
        "app",
        "traffic",
        "kafka",
        "filebeat",
    }
    assert SERVICES["traffic"]["profiles"] == ["traffic"]
    assert SERVICES["kafka"]["profiles"] == ["kafka"]
    assert SERVICES["filebeat"]["profiles"] == ["filebeat"]
    optional = {"traffic", "kafka", "filebeat"}
    assert all("profiles" not in s for name, s in SERVICES.items() if name not in optional)


# ------------------------------------------------------------ compose-go

COMPOSECHECK_SRC = ROOT / "tests" / "composecheck"
COMPOSECHECK_BIN = ROOT / ".cache" / "composecheck" / "composecheck"


@pytest.fixture(scope="module")
def composecheck() -> str:
    """tests/composecheck built with Go: compose-go, Docker Compose's own loader."""
    sources = [COMPOSECHECK_SRC / name for name in ("main.go", "go.mod", "go.sum")]
    stale = not COMPOSECHECK_BIN.exists() or any(
        src.stat().st_mtime > COMPOSECHECK_BIN.stat().st_mtime for src in sources
    )
    if stale:
        go = shutil.which("go")
        if go is None:
            pytest.skip("Go is needed to build tests/composecheck (compose-go)")
        subprocess.run(
            [go, "build", "-o", str(COMPOSECHECK_BIN), "."],
            cwd=COMPOSECHECK_SRC,
            check=True,
            timeout=1200,
        )
    return str(COMPOSECHECK_BIN)


def compose_go(
    binary: str, env: dict[str, str], profiles: str = ""
) -> subprocess.CompletedProcess[str]:
    # Only the .env values: nothing from the test runner's environment leaks in.
    clean = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(
        [binary, str(COMPOSE_FILE), profiles],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.timeout(1500)
def test_compose_go_loads_the_stack(composecheck: str) -> None:
    result = compose_go(composecheck, filled_env(), "traffic,kafka,filebeat")
    assert result.returncode == 0, result.stderr
    project = json.loads(result.stdout)
    services = project["services"]
    assert set(services) == set(SERVICES)
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert len(published) == 6
    assert {p["host_ip"] for p in published} == {"127.0.0.1"}
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
        assert any(v["type"] == "volume" for v in service["volumes"]), name
        for volume in service["volumes"]:
            if volume["type"] == "bind":
                assert volume["read_only"] is True, (name, volume)
    assert (
        services["kibana"]["depends_on"]["preflight"]["condition"]
        == "service_completed_successfully"
    )


@pytest.mark.timeout(1500)
@pytest.mark.parametrize("secret", SECRETS)
def test_compose_go_refuses_a_missing_secret(composecheck: str, secret: str) -> None:
    env = filled_env()
    env[secret] = ""
    result = compose_go(composecheck, env)
    assert result.returncode != 0
    assert f"required variable {secret} is missing a value: set {secret} in .env" in result.stderr


# ------------------------------------------------------------ secrets


def test_every_secret_is_required_without_default() -> None:
    refs = [ref for text in tree_strings(COMPOSE) for ref in variables(text)]
    for name, op in refs:
        if name in SECRETS:
            assert op == ":?", f"${{{name}}} must use :? (refuse empty), got {op!r}"
    assert {name for name, _ in refs} >= set(SECRETS)


@pytest.mark.parametrize("secret", SECRETS)
def test_compose_refuses_to_start_without_a_secret(secret: str) -> None:
    env = filled_env()
    env[secret] = ""
    with pytest.raises(MissingVariable, match=secret):
        interpolate_tree(COMPOSE, env)
    del env[secret]
    with pytest.raises(MissingVariable, match=secret):
        interpolate_tree(COMPOSE, env)


def test_no_changeme_anywhere() -> None:
    for path in [COMPOSE_FILE, ENV_EXAMPLE, *ELK.rglob("*.y*ml"), *ELK.rglob("*.json")]:
        for line in path.read_text(encoding="utf-8").splitlines():
            code = line.split("#", 1)[0]
            assert "changeme" not in code.lower(), f"{path}: {line}"


def test_env_example_lists_every_variable_and_cannot_be_used_unedited() -> None:
    example = read_env_file(ENV_EXAMPLE)
    assert set(SECRETS) <= set(example)
    # Copying the example without editing it must be refused by the preflight.
    problems = setup_script.check_secrets(example)
    assert {p.split()[0] for p in problems if "placeholder" in p} == set(SECRETS)
    # ...and a filled-in copy is accepted.
    assert setup_script.check_secrets(filled_env()) == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("changeme", "placeholder"),
        ("CHANGEME", "placeholder"),
        ("changeme-please-1234", "placeholder"),
        ("REPLACE_ME", "placeholder"),
        ("password", "placeholder"),
        ("short", "shorter"),
    ],
)
def test_setup_refuses_bad_passwords(value: str, reason: str) -> None:
    env = filled_env()
    env["ELASTIC_PASSWORD"] = value
    problems = setup_script.check_secrets(env)
    assert len(problems) == 1
    assert problems[0].startswith("ELASTIC_PASSWORD") and reason in problems[0]


def test_setup_refuses_short_kibana_keys_and_shared_passwords() -> None:
    env = filled_env()
    env["KIBANA_ENCRYPTION_KEY"] = "x" * 31
    env["ELASTALERT_PASSWORD"] = env["REQLOG_WRITER_PASSWORD"]
    problems = setup_script.check_secrets(env)
    assert "KIBANA_ENCRYPTION_KEY is shorter than 32 characters" in problems
    assert any("must all differ" in p for p in problems)


def test_setup_preflight_exit_codes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in filled_env().items():
        monkeypatch.setenv(key, value)
    assert setup_script.main(["--preflight"]) == 0
    monkeypatch.setenv("ELASTIC_PASSWORD", "changeme")
    assert setup_script.main(["--preflight"]) == 1
    assert "refusing to start: ELASTIC_PASSWORD is a placeholder" in capsys.readouterr().err


def test_preflight_gates_the_stack() -> None:
    preflight = SERVICES["preflight"]
    assert "--preflight" in preflight["command"]
    assert set(preflight["environment"]) == set(SECRETS)
    for name in ("elasticsearch", "kibana"):
        assert SERVICES[name]["depends_on"]["preflight"] == {
            "condition": "service_completed_successfully"
        }
    for name in ("logstash", "elastalert", "app", "filebeat"):
        assert SERVICES[name]["depends_on"]["setup"] == {
            "condition": "service_completed_successfully"
        }


# ------------------------------------------------------------ network, licence, keys


def test_published_ports_bind_to_loopback_only() -> None:
    published = 0
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert isinstance(port, str), f"{name}: use the 'HOST_IP:HOST:CONTAINER' string form"
            assert port.startswith("127.0.0.1:"), f"{name}: {port}"
            published += 1
        assert "network_mode" not in service, name
    assert published == 6  # Elasticsearch, Kibana, Logstash tcp + http, app, Kafka


def test_elasticsearch_is_secure_basic_and_laptop_sized() -> None:
    env = SERVICES["elasticsearch"]["environment"]
    assert env["xpack.license.self_generated.type"] == "basic"
    assert env["xpack.security.enabled"] == "true"
    assert env["discovery.type"] == "single-node"
    heap = re.findall(r"-Xm[sx](\d+)([mg])", env["ES_JAVA_OPTS"])
    assert len(heap) == 2 and len(set(heap)) == 1, "pin -Xms = -Xmx"
    size, unit = heap[0]
    assert int(size) * (1024 if unit == "g" else 1) <= 1024
    assert SERVICES["elasticsearch"]["mem_limit"] == "2g"


def test_kibana_encryption_keys_come_from_env() -> None:
    env = SERVICES["kibana"]["environment"]
    for key, var in [
        ("XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY", "KIBANA_ENCRYPTION_KEY"),
        ("XPACK_SECURITY_ENCRYPTIONKEY", "KIBANA_SECURITY_KEY"),
        ("XPACK_REPORTING_ENCRYPTIONKEY", "KIBANA_REPORTING_KEY"),
    ]:
        assert env[key].startswith(f"${{{var}:?"), key
    assert env["ELASTICSEARCH_USERNAME"] == "kibana_system"


def test_services_use_their_least_privilege_users() -> None:
    assert SERVICES["app"]["environment"]["REQLOG_ELASTICSEARCH_USERNAME"] == "reqlog_writer"
    assert SERVICES["logstash"]["environment"]["LOGSTASH_WRITER_USER"] == "reqlog_logstash"
    assert SERVICES["elastalert"]["environment"]["ES_USERNAME"] == "reqlog_elastalert"
    assert SERVICES["filebeat"]["environment"]["FILEBEAT_WRITER_USER"] == "reqlog_filebeat"
    roles = json.loads((ELK / "setup" / "roles.json").read_text())
    assert set(roles["users"]) == {
        "reqlog_writer",
        "reqlog_logstash",
        "reqlog_filebeat",
        "reqlog_elastalert",
    }


# ------------------------------------------------------------ health, volumes, mounts


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_health_check(name: str) -> None:
    check = SERVICES[name]["healthcheck"]
    assert not check.get("disable", False)
    assert check["test"][0] in ("CMD", "CMD-SHELL")
    assert check["interval"] and check["timeout"] and check["retries"] >= 3


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_volumes_are_named_or_read_only_config(name: str) -> None:
    declared = set(COMPOSE["volumes"])
    named = []
    for volume in interpolated()["services"][name].get("volumes", []):
        source, _target, *mode = volume.split(":")
        if source.startswith("."):
            # Bind mounts carry configuration only, read-only, from this repo.
            assert mode == ["ro"], volume
            assert (ROOT / source).resolve().is_relative_to(ROOT), volume
        else:
            assert source in declared, f"{volume}: undeclared named volume"
            named.append(source)
    assert named, f"{name} keeps no state in a named volume"


@pytest.mark.parametrize("pipelines", ["", "pipelines-kafka.yml"])
def test_bind_mounted_configuration_exists(pipelines: str) -> None:
    env = {**filled_env(), "LOGSTASH_PIPELINES": pipelines}
    for service in interpolate_tree(COMPOSE, env)["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{volume}: {source} missing"


def test_every_declared_volume_is_used() -> None:
    used = {v.split(":")[0] for s in SERVICES.values() for v in s.get("volumes", [])}
    assert set(COMPOSE["volumes"]) <= used


# ------------------------------------------------------------ versions and images


def test_elastic_images_share_the_test_bed_version() -> None:
    images = {name: SERVICES[name]["image"] for name in ("elasticsearch", "kibana", "logstash")}
    versions = {image.rsplit(":", 1)[1] for image in images.values()}
    assert versions == {esnode.DEFAULT_VERSION}, images
    for name, image in images.items():
        assert image.startswith(f"docker.elastic.co/{name}/{name}:"), image


def test_elastalert_image_matches_the_tested_version() -> None:
    assert (
        SERVICES["elastalert"]["image"]
        == f"jertel/elastalert2:{elastalert_venv.ELASTALERT_VERSION}"
    )


def test_app_image_is_built_from_our_dockerfile() -> None:
    dockerfile = ROOT / SERVICES["app"]["build"]["dockerfile"]
    text = dockerfile.read_text()
    for source in re.findall(r"^COPY (\S+)", text, re.M):
        assert (ROOT / source).exists(), source
    assert re.search(r"^USER (?!root)\w+", text, re.M), "the app must not run as root"
    wsgi = re.search(r"gunicorn (\w+)\.wsgi", text)
    assert wsgi and (ROOT / "example_project" / wsgi.group(1) / "wsgi.py").is_file()
    ignore = (dockerfile.parent / "Dockerfile.dockerignore").read_text().splitlines()
    assert ignore[1:2] == ["*"] or "*" in ignore  # whitelist: no .venv or .cache in the context
    for name in ("preflight", "setup", "traffic"):
        assert SERVICES[name]["image"] == SERVICES["app"]["image"]


def test_app_health_check_path_exists_in_the_example_project() -> None:
    probe = " ".join(SERVICES["app"]["healthcheck"]["test"])
    path = re.search(r"localhost:8000/([^'\"]*)", probe)
    assert path is not None
    urls = (ROOT / "example_project" / "reqlog_demo" / "urls.py").read_text()
    assert f'path("{path.group(1)}"' in urls


def test_setup_and_traffic_scripts_are_where_compose_runs_them() -> None:
    for name in ("preflight", "setup", "traffic"):
        script = SERVICES[name]["command"][1]
        assert script.startswith("/reqlog/elk/")
        assert (ELK / script.removeprefix("/reqlog/elk/")).is_file()


# ------------------------------------------------------------ setup inputs


def test_roles_give_the_app_writer_create_only() -> None:
    spec = json.loads((ELK / "setup" / "roles.json").read_text())
    writer = setup_script.strip_docs(spec["roles"]["reqlog_writer"])
    assert writer == {
        "cluster": [],
        "indices": [
            {"names": ["logs-django.reqlog-*"], "privileges": ["create_doc", "auto_configure"]}
        ],
    }
    for name, role in spec["roles"].items():
        for entry in role["indices"]:
            assert "*" not in entry["names"], f"{name} may touch every index"
            assert not {"all", "write", "delete", "manage"} & set(entry["privileges"]) or entry[
                "names"
            ] == ["elastalert*"], name
        assert not {"all", "manage", "manage_security"} & set(role["cluster"]), name
    for user in spec["users"].values():
        assert user["password_env"] in SECRETS
        assert set(user["roles"]) <= set(spec["roles"])


def test_setup_strips_doc_keys_before_sending() -> None:
    rules = setup_script.load_rules()
    assert len(rules) == 3
    assert all('"_doc"' not in json.dumps(rule) for rule in rules)
    assert all("_doc" in path.read_text() for path in (ELK / "kibana" / "rules").glob("*.json"))
    connectors = setup_script.load_json(ELK / "kibana" / "connectors.json")
    assert {c["connector_type_id"] for c in connectors} == {".server-log", ".index"}


def test_setup_multipart_body_carries_the_ndjson() -> None:
    # The setup script uploads with the package's own import (one multipart
    # builder for it and for reqlog_setup --kibana-url).
    assert setup_script.import_ndjson is kibana.import_ndjson
    payload = setup_script.SAVED_OBJECTS.read_bytes()
    body, content_type = kibana.multipart("file", "reqlog.ndjson", payload)
    boundary = content_type.split("boundary=")[1]
    assert body.startswith(f"--{boundary}\r\n".encode())
    assert body.endswith(f"\r\n--{boundary}--\r\n".encode())
    assert payload in body and b'filename="reqlog.ndjson"' in body


def test_setup_service_mounts_the_saved_objects_it_imports() -> None:
    # setup.py finds the saved objects next to elk/, as in a checkout; in the
    # container that path must be bind-mounted from the package's resources.
    script = PurePosixPath(SERVICES["setup"]["command"][1])
    wanted = script.parents[2] / setup_script.SAVED_OBJECTS.relative_to(ROOT).as_posix()
    mounts = [v.split(":") for v in SERVICES["setup"]["volumes"] if v.startswith(".")]
    covering = [(src, dst) for src, dst, _mode in mounts if wanted.is_relative_to(dst)]
    assert covering, f"no bind mount of the setup service covers {wanted}"
    source, target = max(covering, key=lambda pair: len(pair[1]))
    on_host = ROOT / source / wanted.relative_to(target)
    assert on_host.is_file(), on_host
    assert on_host.resolve() == SAVED_OBJECTS.resolve()


# ------------------------------------------------------------ the kafka profile


def kafka_properties(env: dict[str, str] | None = None) -> dict[str, str]:
    """The broker settings the apache/kafka image derives from KAFKA_* variables."""
    service = interpolate_tree(COMPOSE, env or filled_env())["services"]["kafka"]
    return {
        key.removeprefix("KAFKA_").lower().replace("_", "."): value
        for key, value in service["environment"].items()
        if key.startswith("KAFKA_") and key != "KAFKA_HEAP_OPTS"
    }


def test_kafka_image_is_the_test_bed_version() -> None:
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{kafkanode.DEFAULT_VERSION}"


def test_kafka_is_a_single_kraft_node_that_authenticates_every_client() -> None:
    env = filled_env()
    props = kafka_properties(env)
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@localhost:9093"
    protocols = dict(item.split(":") for item in props["listener.security.protocol.map"].split(","))
    listeners = dict(item.split("://") for item in props["listeners"].split(","))
    for name, address in listeners.items():
        # Unauthenticated listeners exist only on the container's own loopback.
        assert protocols[name] == "SASL_PLAINTEXT" or address.startswith("localhost:"), name
    assert props["inter.broker.listener.name"] == "BROKER"
    assert props["sasl.enabled.mechanisms"] == "PLAIN"
    advertised = dict(item.split("://") for item in props["advertised.listeners"].split(","))
    assert advertised["EXTERNAL"].startswith("127.0.0.1:")
    for name in ("internal", "external"):
        jaas = props[f"listener.name.{name}.plain.sasl.jaas.config"]
        assert f'user_reqlog_app="{env["KAFKA_APP_PASSWORD"]}"' in jaas
        assert f'user_reqlog_logstash="{env["KAFKA_LOGSTASH_PASSWORD"]}"' in jaas
        assert jaas.endswith(";")
    assert SERVICES["kafka"]["depends_on"]["preflight"] == {
        "condition": "service_completed_successfully"
    }
    assert SERVICES["kafka"]["volumes"] == ["kafka-data:/var/lib/kafka/data"]
    assert "localhost:29092" in " ".join(SERVICES["kafka"]["healthcheck"]["test"])


def test_logstash_reads_kafka_only_with_the_kafka_pipelines_file() -> None:
    env = SERVICES["logstash"]["environment"]
    assert env["KAFKA_LOGSTASH_PASSWORD"].startswith("${KAFKA_LOGSTASH_PASSWORD:?")
    assert env["KAFKA_LOGSTASH_USER"] == "reqlog_logstash"
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092"
    advertised = kafka_properties()["advertised.listeners"]
    assert f"INTERNAL://{env['KAFKA_BOOTSTRAP_SERVERS']}" in advertised
    for choice, expected in [("", "pipelines.yml"), ("pipelines-kafka.yml", "pipelines-kafka.yml")]:
        services = interpolate_tree(COMPOSE, {**filled_env(), "LOGSTASH_PIPELINES": choice})
        mounts = [v for v in services["services"]["logstash"]["volumes"] if "pipelines" in v]
        assert mounts == [
            f"./elk/logstash/config/{expected}:/usr/share/logstash/config/pipelines.yml:ro"
        ]


@pytest.mark.timeout(1500)
def test_compose_go_resolves_both_logstash_variants(composecheck: str) -> None:
    plain = compose_go(composecheck, filled_env())
    assert plain.returncode == 0, plain.stderr
    services = json.loads(plain.stdout)["services"]
    assert "kafka" not in services
    env = {**filled_env(), "LOGSTASH_PIPELINES": "pipelines-kafka.yml"}
    with_kafka = compose_go(composecheck, env, "kafka")
    assert with_kafka.returncode == 0, with_kafka.stderr
    services = json.loads(with_kafka.stdout)["services"]
    (mount,) = [v for v in services["logstash"]["volumes"] if v["target"].endswith("pipelines.yml")]
    assert mount["source"] == str(ROOT / "elk" / "logstash" / "config" / "pipelines-kafka.yml")
    (port,) = services["kafka"]["ports"]
    assert port["host_ip"] == "127.0.0.1" and port["published"] == "9092"


# ------------------------------------------------------------ the filebeat profile


def test_filebeat_image_is_the_stack_version() -> None:
    assert SERVICES["filebeat"]["image"] == (
        f"docker.elastic.co/beats/filebeat:{esnode.DEFAULT_VERSION}"
    )


def test_filebeat_writes_as_a_create_only_user() -> None:
    env = SERVICES["filebeat"]["environment"]
    assert env["FILEBEAT_WRITER_PASSWORD"].startswith("${FILEBEAT_WRITER_PASSWORD:?")
    assert env["REQLOG_ES_TARGET"] == SERVICES["logstash"]["environment"]["REQLOG_ES_TARGET"]
    spec = json.loads((ELK / "setup" / "roles.json").read_text())
    role = setup_script.strip_docs(spec["roles"]["reqlog_filebeat"])
    assert role == {
        "cluster": ["monitor"],
        "indices": [
            {"names": ["logs-django.reqlog-*"], "privileges": ["create_doc", "auto_configure"]}
        ],
    }
    assert spec["users"]["reqlog_filebeat"]["password_env"] == "FILEBEAT_WRITER_PASSWORD"


def app_log_file() -> str:
    """The file .env.example tells the app to write for the filebeat profile."""
    match = re.search(r"^# APP_LOG_FILE=(\S+)$", ENV_EXAMPLE.read_text(), re.M)
    assert match, "no APP_LOG_FILE example in .env.example"
    return match.group(1)


def test_filebeat_reads_the_file_the_app_writes_read_only() -> None:
    app, filebeat = SERVICES["app"], SERVICES["filebeat"]
    app_mounts = dict(v.split(":")[:2] for v in app["volumes"])
    written = PurePosixPath(app_log_file())
    assert app["environment"]["REQLOG_LOG_FILE"] == "${APP_LOG_FILE-}"
    assert app_mounts["app-logs"] == str(written.parent)
    (mount,) = [v for v in filebeat["volumes"] if v.startswith("app-logs:")]
    _volume, target, mode = mount.split(":")
    assert mode == "ro"
    # The app's file and its logrotate copies, seen from the Filebeat container.
    seen = PurePosixPath(target) / written.name
    glob = filebeat["environment"]["REQLOG_LOG_PATHS"]
    for name in (seen, f"{seen}.1", f"{seen}.2"):
        assert PurePosixPath(name).match(glob), (name, glob)
    assert not PurePosixPath(target, "db.sqlite3").match(glob)
    # The database stays in app-data, which Filebeat does not see.
    assert not [v for v in filebeat["volumes"] if v.startswith("app-data:")]
    assert filebeat["command"] == ["filebeat", "-e", "--strict.perms=false"]
    assert "ports" not in filebeat


def test_filebeat_config_is_mounted_where_filebeat_reads_it() -> None:
    (mount,) = [v for v in SERVICES["filebeat"]["volumes"] if v.startswith("./")]
    assert mount == "./elk/filebeat/filebeat.yml:/usr/share/filebeat/filebeat.yml:ro"
    assert SERVICES["filebeat"]["healthcheck"]["test"][:4] == ["CMD", "filebeat", "test", "output"]


@pytest.mark.timeout(1500)
def test_compose_go_resolves_the_filebeat_profile(composecheck: str) -> None:
    plain = compose_go(composecheck, filled_env())
    assert plain.returncode == 0, plain.stderr
    assert "filebeat" not in json.loads(plain.stdout)["services"]
    env = {**filled_env(), "APP_LOG_FILE": app_log_file()}
    with_filebeat = compose_go(composecheck, env, "filebeat")
    assert with_filebeat.returncode == 0, with_filebeat.stderr
    services = json.loads(with_filebeat.stdout)["services"]
    assert services["app"]["environment"]["REQLOG_LOG_FILE"] == app_log_file()
    volumes = {v["target"]: v for v in services["filebeat"]["volumes"]}
    assert volumes["/var/log/reqlog"]["source"] == "app-logs"
    assert volumes["/var/log/reqlog"]["read_only"] is True
    assert volumes["/usr/share/filebeat/filebeat.yml"]["read_only"] is True
    assert volumes["/usr/share/filebeat/data"]["source"] == "filebeat-data"
    assert (
        services["filebeat"]["environment"]["FILEBEAT_WRITER_PASSWORD"]
        == env["FILEBEAT_WRITER_PASSWORD"]
    )
