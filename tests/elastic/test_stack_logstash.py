"""The Logstash pipeline, validated offline (Logstash cannot run here).

1. The .conf parses with two independent Logstash-config grammars from PyPI
   (``lscl`` and ``logstash-pipeline-parser``), and every plugin option we use
   is one the plugin documents.
2. The handler's bytes on the wire are what the pipeline's codecs expect.
3. The pipeline's filter section, interpreted in Python from the parsed AST
   (so the rename table is read from the .conf, never copied), turns
   LogstashFormatter output into the same ECS document ECSFormatter writes,
   and the real Elasticsearch template accepts it with the mapped types.
4. The Kafka pipeline (reqlog-kafka.conf) parses the same way, hands its
   events to the main pipeline's ``pipeline`` input, and decodes what
   KafkaHandler writes to the real broker.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import override_settings

from django_reqlog.elastic.names import data_stream_name
from django_reqlog.formatters import ECSFormatter, LogstashFormatter
from django_reqlog.handlers import LogstashHandler, ShipperHandler
from tests.helpers.es_fixtures import (
    FULL_CAPTURE,
    full_request_record,
    leaf_paths,
    template_field_types,
)

lscl_parser = pytest.importorskip("lscl.parser")

REPO = Path(__file__).resolve().parents[2]
PIPELINE = REPO / "elk" / "logstash" / "pipeline" / "reqlog.conf"
KAFKA_PIPELINE = REPO / "elk" / "logstash" / "pipeline" / "reqlog-kafka.conf"
CONFIG = REPO / "elk" / "logstash" / "config"

# Options of the Logstash plugins the pipeline uses, from each plugin's
# reference page (common options included): a typo becomes a test failure
# here instead of a Logstash that refuses to start.
COMMON = {
    "id",
    "enable_metric",
    "add_field",
    "add_tag",
    "remove_field",
    "remove_tag",
    "periodic_flush",
    "codec",
    "tags",
    "type",
    "ecs_compatibility",
}
KNOWN_OPTIONS = {
    ("input", "tcp"): COMMON
    | {
        "host",
        "port",
        "mode",
        "ssl_enabled",
        "ssl_certificate",
        "ssl_key",
        "ssl_certificate_authorities",
        "tcp_keep_alive",
        "dns_reverse_lookup_enabled",
        "proxy_protocol",
    },
    ("input", "http"): COMMON
    | {
        "host",
        "port",
        "user",
        "password",
        "threads",
        "additional_codecs",
        "response_headers",
        "response_code",
        "remote_host_target_field",
        "request_headers_target_field",
        "ssl_enabled",
        "ssl_certificate",
        "ssl_key",
        "max_pending_requests",
        "max_content_length",
    },
    ("filter", "mutate"): COMMON
    | {
        "rename",
        "lowercase",
        "uppercase",
        "convert",
        "copy",
        "gsub",
        "merge",
        "replace",
        "update",
        "split",
        "strip",
        "tag_on_failure",
    },
    ("input", "pipeline"): COMMON | {"address"},
    ("input", "kafka"): COMMON
    | {
        "bootstrap_servers",
        "topics",
        "topics_pattern",
        "group_id",
        "client_id",
        "auto_offset_reset",
        "consumer_threads",
        "decorate_events",
        "enable_auto_commit",
        "isolation_level",
        "security_protocol",
        "sasl_mechanism",
        "sasl_jaas_config",
        "ssl_truststore_location",
        "ssl_truststore_password",
        "ssl_truststore_type",
        "ssl_endpoint_identification_algorithm",
        "max_poll_records",
    },
    ("output", "pipeline"): {"id", "enable_metric", "codec", "send_to", "ensure_delivery"},
    ("filter", "uuid"): COMMON | {"target", "overwrite"},
    ("filter", "ruby"): COMMON | {"code", "init", "path", "script_params", "tag_on_exception"},
    ("output", "elasticsearch"): {
        "id",
        "enable_metric",
        "codec",
        "ecs_compatibility",
        "hosts",
        "user",
        "password",
        "api_key",
        "index",
        "action",
        "document_id",
        "data_stream",
        "manage_template",
        "ilm_enabled",
        "pipeline",
        "ssl_enabled",
        "ssl_certificate_authorities",
        "routing",
        "dlq_custom_codes",
        "dlq_on_failed_indexname_interpolation",
    },
}


# ---------------------------------------------------------------- parsing


def ast(path: Path = PIPELINE) -> list[Any]:
    tree: list[Any] = lscl_parser.parse_lscl(path.read_text())
    return tree


def plugins(nodes: list[Any], section: str) -> list[Any]:
    """Every plugin block in a section, through conditionals."""
    found = []
    for node in nodes:
        if isinstance(node, lscl_parser.LsclBlock):
            found.append(node)
        elif isinstance(node, lscl_parser.LsclConditions):
            for _, body in node.conditions:
                found.extend(plugins(body, section))
            if node.default:
                found.extend(plugins(node.default, section))
    return found


def section(name: str, path: Path = PIPELINE) -> list[Any]:
    return next((b.content for b in ast(path) if b.name == name), [])


def options(block: Any) -> dict[str, Any]:
    return {a.name: a.content for a in block.content if isinstance(a, lscl_parser.LsclAttribute)}


def test_pipeline_parses_with_lscl() -> None:
    assert [b.name for b in ast()] == ["input", "filter", "output"]


def test_pipeline_parses_with_logstash_pipeline_parser() -> None:
    parser = pytest.importorskip("logstash_pipeline_parser")
    tree = parser.Pipeline(PIPELINE.read_text()).parse()
    assert [section_[0] for section_ in tree] == ["input", "filter", "output"]


@pytest.mark.parametrize(
    "broken",
    [
        lambda s: s.replace('=> "[client][ip]"', '"[client][ip]"', 1),  # missing =>
        lambda s: s[: s.rindex("}")],  # unbalanced braces
        lambda s: s.replace("if ![ecs][version]", "if ![ecs][version] ===", 1),
    ],
)
def test_grammar_rejects_broken_copies(broken: Any) -> None:
    with pytest.raises(Exception):  # noqa: B017 - either parser error class will do
        lscl_parser.parse_lscl(broken(PIPELINE.read_text()))


@pytest.mark.parametrize("path", [PIPELINE, KAFKA_PIPELINE], ids=lambda p: p.name)
@pytest.mark.parametrize("kind", ["input", "filter", "output"])
def test_every_option_is_documented(kind: str, path: Path) -> None:
    for block in plugins(section(kind, path), kind):
        known = KNOWN_OPTIONS.get((kind, block.name))
        assert known is not None, f"unexpected {kind} plugin {block.name}"
        assert set(options(block)) <= known, (block.name, set(options(block)) - known)


def test_ids_are_unique() -> None:
    ids = [
        options(b).get("id")
        for path in (PIPELINE, KAFKA_PIPELINE)
        for kind in ("input", "filter", "output")
        for b in plugins(section(kind, path), kind)
    ]
    assert None not in ids
    assert len(ids) == len(set(ids))


def test_output_writes_by_event_id_with_create() -> None:
    (output,) = plugins(section("output"), "output")
    opts = options(output)
    assert output.name == "elasticsearch"
    assert opts["action"] == "create"
    assert opts["document_id"] == "%{[event][id]}"
    assert opts["manage_template"] is False or opts["manage_template"] == "false"
    assert opts["index"].endswith(":logs-django.reqlog-default}")


def test_logstash_settings_enable_persistent_queue_and_dlq() -> None:
    settings = yaml.safe_load((CONFIG / "logstash.yml").read_text())
    assert settings["queue.type"] == "persisted"
    assert settings["dead_letter_queue.enable"] is True
    pipelines = yaml.safe_load((CONFIG / "pipelines.yml").read_text())
    assert pipelines[0]["path.config"].endswith("/" + PIPELINE.name)


# ---------------------------------------------------------------- the filter, interpreted


def ref(field: str) -> list[str]:
    """``[a][b]`` or ``a`` -> ["a", "b"]."""
    return field.strip("[]").split("][") if field.startswith("[") else [field]


def get(event: dict[str, Any], path: list[str]) -> Any:
    value: Any = event
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def put(event: dict[str, Any], path: list[str], value: Any) -> None:
    target = event
    for part in path[:-1]:
        if not isinstance(target.get(part), dict):
            target[part] = {}
        target = target[part]
    target[path[-1]] = value


def pop(event: dict[str, Any], path: list[str]) -> Any:
    parent = get(event, path[:-1]) if len(path) > 1 else event
    if isinstance(parent, dict):
        return parent.pop(path[-1], None)
    return None


def truthy(condition: Any, event: dict[str, Any]) -> bool:
    if isinstance(condition, lscl_parser.LsclNot):
        return not truthy(condition.condition, event)
    if isinstance(condition, lscl_parser.LsclSelector):
        return get(event, condition.names) not in (None, False, "", [], {})
    raise AssertionError(f"the interpreter does not know {condition!r}; extend it")


def run_plugin(block: Any, event: dict[str, Any]) -> None:
    opts = options(block)
    if block.name == "mutate":
        # Logstash's order: rename ... lowercase, then the common add/remove.
        for source, target in (opts.get("rename") or {}).items():
            value = pop(event, ref(source))
            if value is not None:
                put(event, ref(target), value)
        for field in opts.get("lowercase") or []:
            value = get(event, ref(field))
            if isinstance(value, str):
                put(event, ref(field), value.lower())
    elif block.name == "uuid":
        put(event, ref(opts["target"]), str(uuid.uuid4()))
    elif block.name == "ruby":
        move_to_labels(opts, event)
    else:
        raise AssertionError(f"the interpreter does not know {block.name}; extend it")
    for field, value in (opts.get("add_field") or {}).items():
        existing = get(event, ref(field))
        if existing is None:
            put(event, ref(field), value)
        else:  # Logstash turns an existing value into an array
            put(
                event,
                ref(field),
                [*(existing if isinstance(existing, list) else [existing]), value],
            )
    for field in opts.get("remove_field") or []:
        pop(event, ref(field))


def move_to_labels(opts: dict[str, Any], event: dict[str, Any]) -> None:
    """The one ruby filter, reqlog_v1_labels, interpreted: every top-level
    field outside the ECS roots listed in its ``init`` moves under labels.
    Its Ruby text is checked to be the code this stands for."""
    assert opts["id"] == "reqlog_v1_labels", "the interpreter knows one ruby filter; extend it"
    assert opts["code"] == (
        "event.to_hash.each_key { |name| next if ECS_ROOTS.include?(name) || "
        "name.include?('['); event.set('[labels][' + name + ']', event.remove(name)) }"
    )
    roots = opts["init"].split("%w[", 1)[1].split("]", 1)[0].split()
    for name in [n for n in event if n not in roots and "[" not in n]:
        put(event, ["labels", name], event.pop(name))


def run_filters(nodes: list[Any], event: dict[str, Any]) -> None:
    for node in nodes:
        if isinstance(node, lscl_parser.LsclBlock):
            run_plugin(node, event)
        elif isinstance(node, lscl_parser.LsclConditions):
            for condition, body in node.conditions:
                if truthy(condition, event):
                    run_filters(body, event)
                    break
            else:
                run_filters(node.default or [], event)


def through_pipeline(line: str) -> dict[str, Any]:
    """What the pipeline would index for one json_lines line."""
    event: dict[str, Any] = json.loads(line)
    run_filters(section("filter"), event)
    return event


def formatted(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    with override_settings(**FULL_CAPTURE):
        return formatter.format(record)


# ECS fields the Logstash v1 shape cannot carry (no port or function name in
# python-logstash's envelope) or carries differently; anything else missing
# means the rename table lost a field.
NOT_IN_V1 = {
    "url.port",
    "log.origin.file.name",
    "log.origin.function",
    "service.name",
    "event.type",
}


def test_pipeline_output_matches_ecs_formatter() -> None:
    record = full_request_record()
    via_logstash = leaf_paths(through_pipeline(formatted(LogstashFormatter(), record)))
    direct = leaf_paths(json.loads(formatted(ECSFormatter(service_name="shop"), record)))
    assert set(direct) - set(via_logstash) == NOT_IN_V1
    for path, value in via_logstash.items():
        if path in direct:
            expected = direct[path]
            if isinstance(expected, list) and not isinstance(value, list):
                expected = expected[0] if len(expected) == 1 else expected
            assert value == expected, path


def test_every_pipeline_field_is_mapped() -> None:
    types = template_field_types()
    event = through_pipeline(formatted(LogstashFormatter(), full_request_record()))
    # Unmapped leftovers would be kept in _source but not searchable.
    assert sorted(p for p in leaf_paths(event, types) if p not in types) == []


def test_ecs_events_pass_through_unchanged() -> None:
    line = formatted(ECSFormatter(), full_request_record())
    assert through_pipeline(line) == json.loads(line)


def test_record_without_event_id_gets_one() -> None:
    record = logging.LogRecord("django_reqlog.shipper", logging.INFO, __file__, 1, "x", (), None)
    record.reqlog_shipper = {
        "queued": 1,
        "sent": 1,
        "retried": 0,
        "spooled": 0,
        "dropped": 0,
        "failed": 0,
        "spool_bytes": 0,
    }
    event = through_pipeline(formatted(LogstashFormatter(), record))
    assert uuid.UUID(event["event"]["id"])
    assert event["event"]["kind"] == "metric"
    assert event["reqlog"]["shipper"]["sent"] == 1


@pytest.mark.es
def test_pipeline_document_is_accepted_by_the_real_template(
    es_client: Any, reqlog_templates: Any, es_namespace: str
) -> None:
    stream = data_stream_name(es_namespace)
    event = through_pipeline(formatted(LogstashFormatter(), full_request_record()))
    event_id = event["event"]["id"]
    es_client.create(index=stream, id=event_id, document=event, refresh="true")
    caps = es_client.field_caps(index=stream, fields="*")["fields"]
    types = template_field_types()
    for path in leaf_paths(event, types):
        if path in types:
            assert next(iter(caps[path])) == types[path], path
    found = es_client.search(
        index=stream,
        query={
            "bool": {
                "filter": [
                    {"term": {"event.id": event_id}},
                    {"term": {"http.response.status_code": 500}},
                    {"term": {"client.ip": "203.0.113.5"}},
                    {"range": {"event.duration": {"gte": 12_000_000}}},
                ]
            }
        },
    )
    assert found["hits"]["total"]["value"] == 1


# ---------------------------------------------------------------- the wire format


def tcp_capture() -> tuple[int, dict[str, bytes], threading.Thread]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    box: dict[str, bytes] = {"data": b""}

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            while chunk := conn.recv(65536):
                box["data"] += chunk
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server.getsockname()[1], box, thread


def ship_wire_records(
    handler: ShipperHandler,
) -> tuple[list[logging.LogRecord], logging.LogRecord]:
    """Three full request records and one odd message through ``handler``, then close it.

    Newlines, a line separator and non-ASCII inside values must stay inside
    one event on the wire."""
    records = [full_request_record() for _ in range(3)]
    odd = logging.LogRecord(
        "django_reqlog", logging.INFO, __file__, 1, "line1\nline2\u2028é", (), None
    )
    with override_settings(**FULL_CAPTURE):
        for record in [*records, odd]:
            handler.handle(record)
        assert handler.wait_idle(30)
    handler.close()
    return records, odd


def test_tcp_wire_format_is_json_lines(tmp_path: Path) -> None:
    tcp = next(b for b in plugins(section("input"), "input") if b.name == "tcp")
    assert options(tcp)["codec"] == "json_lines"
    port, box, thread = tcp_capture()
    handler = LogstashHandler(
        "127.0.0.1", port, flush_interval=0.05, metrics_interval=None, spool_dir=str(tmp_path)
    )
    handler.setFormatter(LogstashFormatter())
    records, _odd = ship_wire_records(handler)
    thread.join(10)
    data = box["data"]
    assert data.endswith(b"\n")
    lines = data[:-1].split(b"\n")
    assert len(lines) == 4
    events = [json.loads(line.decode("utf-8")) for line in lines]
    assert all(isinstance(e, dict) for e in events)
    assert events[-1]["message"] == "line1\nline2\u2028é"
    assert [e["event_id"] for e in events[:3]] == [r.event_id for r in records]


def test_http_wire_format_matches_an_http_codec(tmp_path: Path) -> None:
    http = next(b for b in plugins(section("input"), "input") if b.name == "http")
    codecs = options(http)["additional_codecs"]
    seen: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen["content_type"] = self.headers["Content-Type"].split(";")[0]
            seen["body"] = body
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        handler = LogstashHandler(
            "127.0.0.1",
            server.server_address[1],
            "http",
            flush_interval=0.05,
            metrics_interval=None,
            spool_dir=str(tmp_path),
        )
        handler.setFormatter(LogstashFormatter())
        with override_settings(**FULL_CAPTURE):
            handler.handle(full_request_record())
            assert handler.wait_idle(10)
        handler.close()
    finally:
        server.shutdown()
    codec = codecs[seen["content_type"]]
    if codec == "json":
        decoded = json.loads(seen["body"])
        events = decoded if isinstance(decoded, list) else [decoded]
    else:
        events = [json.loads(line) for line in seen["body"].splitlines() if line]
    assert len(events) == 1 and events[0]["status"] == 500


# ---------------------------------------------------------------- the Kafka pipeline


def test_kafka_pipeline_parses_with_both_grammars() -> None:
    assert [b.name for b in ast(KAFKA_PIPELINE)] == ["input", "output"]
    parser = pytest.importorskip("logstash_pipeline_parser")
    tree = parser.Pipeline(KAFKA_PIPELINE.read_text()).parse()
    assert [section_[0] for section_ in tree] == ["input", "output"]


@pytest.mark.parametrize(
    "broken",
    [
        lambda s: s.replace('group_id => "reqlog-logstash"', 'group_id "reqlog-logstash"', 1),
        lambda s: s[: s.rindex("}")],
        lambda s: s.replace("required username=", "required' username=", 1),  # quote left open
    ],
)
def test_grammar_rejects_broken_copies_of_the_kafka_pipeline(broken: Any) -> None:
    with pytest.raises(Exception):  # noqa: B017 - either parser error class will do
        lscl_parser.parse_lscl(broken(KAFKA_PIPELINE.read_text()))


def test_kafka_pipeline_hands_json_events_to_the_main_pipeline() -> None:
    from django_reqlog.handlers.kafka import DEFAULT_TOPIC

    (kafka,) = plugins(section("input", KAFKA_PIPELINE), "input")
    opts = options(kafka)
    assert kafka.name == "kafka" and opts["codec"] == "json"
    assert opts["topics"] == [f"${{REQLOG_KAFKA_TOPIC:{DEFAULT_TOPIC}}}"]
    assert opts["auto_offset_reset"] == "earliest"
    assert opts["security_protocol"] == "SASL_PLAINTEXT" and opts["sasl_mechanism"] == "PLAIN"
    assert 'password="${KAFKA_LOGSTASH_PASSWORD}"' in opts["sasl_jaas_config"]
    (output,) = plugins(section("output", KAFKA_PIPELINE), "output")
    receivers = [b for b in plugins(section("input"), "input") if b.name == "pipeline"]
    assert output.name == "pipeline"
    assert options(output)["send_to"] == [options(receivers[0])["address"]]
    # Two pipelines with the main one unchanged; each file is one of ours.
    with_kafka = yaml.safe_load((CONFIG / "pipelines-kafka.yml").read_text())
    plain = yaml.safe_load((CONFIG / "pipelines.yml").read_text())
    assert with_kafka[0] == plain[0]
    assert [Path(p["path.config"]).name for p in with_kafka] == [PIPELINE.name, KAFKA_PIPELINE.name]
    assert len({p["pipeline.id"] for p in with_kafka}) == 2


@pytest.mark.kafka
def test_kafka_wire_format_is_one_json_event_per_message(tmp_path: Path) -> None:
    """What KafkaHandler writes to the real broker is what the json codec reads:
    one JSON object per message, which the main pipeline's filter leaves as it
    is and its output stores under the message key (the event id)."""
    from django_reqlog.handlers import KafkaHandler
    from tests.helpers.kafka_broker import consume_all, create_topic, kafka_settings

    kafka = kafka_settings()
    topic = create_topic(kafka.bootstrap)
    handler = KafkaHandler(
        kafka.bootstrap, topic=topic, flush_interval=0.05, metrics_interval=None,
        spool_dir=str(tmp_path),
    )  # fmt: skip
    records, odd = ship_wire_records(handler)
    messages = consume_all(kafka.bootstrap, topic)
    assert len(messages) == 4
    for message in messages:
        assert isinstance(message.value, dict)
        assert through_pipeline(json.dumps(message.value)) == message.value
        assert message.key == message.value["event"]["id"]
    assert {m.key for m in messages} >= {r.event_id for r in records}
    assert [m.value["message"] for m in messages if m.key == odd.event_id] == [
        "line1\nline2\u2028é"
    ]
