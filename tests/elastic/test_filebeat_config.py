"""elk/filebeat/filebeat.yml, validated offline.

Filebeat cannot run here: no Docker engine, no Filebeat on PyPI or Maven
Central, and the Go module proxy refuses github.com/elastic/beats/v7 ("This
module version is not available"), so it cannot be built either. What is
checked instead:
- every option the file sets is one that Filebeat 9.2 documents, with the
  page that documents it (``DOCUMENTED`` below);
- the values the shipping depends on: the ndjson parser at the root with
  ``overwrite_keys`` (else the line's own @timestamp is dropped), event.id
  copied to ``@metadata._id`` (Filebeat's Elasticsearch output then sends a
  bulk ``create`` and counts a 409 as delivered), no template or ILM set-up;
- a real line from JSONLinesFileHandler and ECSFormatter has the fields the
  file reads, with a @timestamp in the RFC 3339 form Filebeat parses;
- the target is the data stream our index template matches and the one the
  Logstash output writes to, and the ``_id`` is the event id that Logstash
  and ElasticsearchHandler use.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpResponse

from django_reqlog.formatters import ECSFormatter
from django_reqlog.handlers import JSONLinesFileHandler
from django_reqlog.middleware import RequestLogMiddleware
from tests.elastic.stack_support import ELK, RESOURCES
from tests.helpers.log_capture import attached

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read elk/filebeat/filebeat.yml")

CONFIG_FILE = ELK / "filebeat" / "filebeat.yml"
CONFIG: dict[str, Any] = yaml.safe_load(CONFIG_FILE.read_text(encoding="utf-8"))

# Filebeat's reference for 9.x, in the elastic/beats repository under
# docs/reference/filebeat/ (published at elastic.co/docs/reference/beats/filebeat/).
INPUT = "filebeat-input-filestream.md (filestream input; 'parsers' > 'ndjson')"
COPY = "copy-fields.md (fields from/to, @metadata. prefix allowed)"
DROP = "drop-fields.md"
OUTPUT = "elasticsearch-output.md"
TEMPLATE = "configuration-template.md"
ILM = "ilm.md"
DOCUMENTED = {
    "filebeat.inputs[].type": INPUT,
    "filebeat.inputs[].id": INPUT,
    "filebeat.inputs[].paths": INPUT,
    "filebeat.inputs[].prospector.scanner.exclude_files": INPUT,
    "filebeat.inputs[].parsers[].ndjson.target": INPUT,
    "filebeat.inputs[].parsers[].ndjson.overwrite_keys": INPUT,
    "filebeat.inputs[].parsers[].ndjson.add_error_key": INPUT,
    "filebeat.inputs[].publisher_pipeline.disable_host": INPUT + " ('Common options')",
    "filebeat.inputs[].processors[].copy_fields.fields[].from": COPY,
    "filebeat.inputs[].processors[].copy_fields.fields[].to": COPY,
    "filebeat.inputs[].processors[].copy_fields.fail_on_error": COPY,
    "filebeat.inputs[].processors[].copy_fields.ignore_missing": COPY,
    "filebeat.inputs[].processors[].drop_fields.fields": DROP,
    "filebeat.inputs[].processors[].drop_fields.ignore_missing": DROP,
    "output.elasticsearch.hosts": OUTPUT,
    "output.elasticsearch.username": OUTPUT,
    "output.elasticsearch.password": OUTPUT,
    "output.elasticsearch.index": OUTPUT,
    "setup.template.enabled": TEMPLATE,
    "setup.template.name": TEMPLATE,
    "setup.template.pattern": TEMPLATE,
    "setup.ilm.enabled": ILM,
}
# Processors the file may name (each is its own page of the reference).
PROCESSORS = {"copy_fields", "drop_fields"}


def option_paths(value: Any, prefix: str = "") -> set[str]:
    """Dotted option names, with ``[]`` for list items; processor and parser
    names stay part of the path (``processors[].copy_fields.fields``)."""
    if isinstance(value, dict):
        paths: set[str] = set()
        for key, item in value.items():
            paths |= option_paths(item, f"{prefix}.{key}" if prefix else key)
        return paths
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return set().union(*(option_paths(v, f"{prefix}[]") for v in value))
    return {prefix}


def the_input() -> dict[str, Any]:
    (only,) = CONFIG["filebeat.inputs"]
    assert isinstance(only, dict)
    return only


def processors() -> list[tuple[str, dict[str, Any]]]:
    return [next(iter(p.items())) for p in the_input()["processors"]]


def env_default(value: str) -> str:
    """``${VAR:default}`` -> default (Beats' environment-variable syntax)."""
    match = re.fullmatch(r"\$\{[A-Z_]+:([^}]*)\}", value)
    assert match, value
    return match.group(1)


def test_every_option_is_documented_for_filebeat_9_2() -> None:
    assert option_paths(CONFIG) == set(DOCUMENTED)


def test_the_option_check_bites() -> None:
    broken = {**CONFIG, "output.elasticsearch": {**CONFIG["output.elasticsearch"], "indx": "x"}}
    assert option_paths(broken) - set(DOCUMENTED) == {"output.elasticsearch.indx"}


def test_only_documented_processors() -> None:
    assert {name for name, _options in processors()} <= PROCESSORS


def test_filestream_with_a_stable_id_and_the_rotated_files() -> None:
    source = the_input()
    assert source["type"] == "filestream"
    assert source["id"] == "django-reqlog"  # the registry's key: never change it
    (paths,) = source["paths"]
    pattern = env_default(paths)
    for name in ("reqlog.ndjson", "reqlog.ndjson.1", "reqlog.ndjson.2"):
        assert fnmatchcase(f"/var/log/reqlog/{name}", pattern), name
    excluded = [re.compile(rx) for rx in source["prospector.scanner.exclude_files"]]
    assert any(rx.search("/var/log/reqlog/reqlog.ndjson.2.gz") for rx in excluded)
    assert not any(rx.search("/var/log/reqlog/reqlog.ndjson.1") for rx in excluded)


def test_ndjson_parser_keeps_the_events_own_timestamp_and_fields() -> None:
    (parser,) = the_input()["parsers"]
    assert parser == {"ndjson": {"target": "", "overwrite_keys": True, "add_error_key": True}}
    assert the_input()["publisher_pipeline.disable_host"] is True


def test_event_id_becomes_the_document_id() -> None:
    (copy,) = [opts for name, opts in processors() if name == "copy_fields"]
    assert copy["fields"] == [{"from": "event.id", "to": "@metadata._id"}]
    assert copy["ignore_missing"] is True and copy["fail_on_error"] is False
    # The Logstash output takes the same field as _id, with op_type create.
    logstash = (ELK / "logstash" / "pipeline" / "reqlog.conf").read_text()
    assert 'document_id => "%{[event][id]}"' in logstash
    assert 'action => "create"' in logstash


def test_filebeat_installs_nothing_and_writes_our_data_stream() -> None:
    assert CONFIG["setup.template.enabled"] is False
    assert CONFIG["setup.ilm.enabled"] is False
    output = CONFIG["output.elasticsearch"]
    target = env_default(output["index"])
    template = json.loads((RESOURCES / "elasticsearch" / "index-template.json").read_text())
    assert "data_stream" in template
    assert any(fnmatchcase(target, p) for p in template["index_patterns"])
    assert fnmatchcase(CONFIG["setup.template.pattern"].replace("*", "x"), "logs-django.reqlog-*")
    logstash = (ELK / "logstash" / "pipeline" / "reqlog.conf").read_text()
    assert f'index => "${{REQLOG_ES_TARGET:{target}}}"' in logstash
    assert env_default(output["username"]) == "reqlog_filebeat"
    assert output["password"] == "${FILEBEAT_WRITER_PASSWORD}"
    roles = json.loads((ELK / "setup" / "roles.json").read_text())
    assert "reqlog_filebeat" in roles["users"]["reqlog_filebeat"]["roles"]


def get(doc: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        doc = doc[part]
    return doc


def test_a_real_line_has_what_the_config_reads(tmp_path: Path, rf: Any) -> None:
    path = tmp_path / "reqlog.ndjson"
    handler = JSONLinesFileHandler(path)
    handler.setFormatter(ECSFormatter())
    with attached(handler):
        RequestLogMiddleware(lambda request: HttpResponse("ok"))(rf.get("/hello/"))
    handler.close()
    (line,) = path.read_text(encoding="utf-8").splitlines()
    doc = json.loads(line)
    (copy,) = [opts for name, opts in processors() if name == "copy_fields"]
    for pair in copy["fields"]:
        assert isinstance(get(doc, pair["from"]), str) and get(doc, pair["from"])
    # Filebeat parses @timestamp as RFC 3339 (or ISO 8601 with milliseconds).
    stamp = doc["@timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", stamp), stamp
    assert datetime.fromisoformat(stamp.replace("Z", "+00:00")).tzinfo is not None
    # Nothing Filebeat drops is ours.
    (drop,) = [opts for name, opts in processors() if name == "drop_fields"]
    assert not set(drop["fields"]) & set(doc)
