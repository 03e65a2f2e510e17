"""The index template: offline shape checks, then the real node's verdict."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from django_reqlog import es_setup
from django_reqlog.formatters import ECSFormatter
from tests.fixtures_es import (
    FULL_CAPTURE,
    full_request_record,
    leaf_paths,
    make_client,
    template_field_types,
)

REPO = Path(__file__).resolve().parents[1]
PACKAGED = REPO / "django_reqlog" / "resources" / "elasticsearch"

# The contract's intended type for each ECS field the formatter emits.
EXPECTED_TYPES = {
    "@timestamp": "date",
    "message": "text",
    "log.level": "keyword",
    "log.logger": "keyword",
    "log.origin.file.name": "keyword",
    "log.origin.file.line": "long",
    "log.origin.function": "keyword",
    "ecs.version": "keyword",
    "event.id": "keyword",
    "event.kind": "keyword",
    "event.category": "keyword",
    "event.type": "keyword",
    "event.dataset": "keyword",
    "event.action": "keyword",
    "event.duration": "long",
    "event.outcome": "keyword",
    "event.module": "keyword",
    "http.version": "keyword",
    "http.request.method": "keyword",
    "http.request.id": "keyword",
    "http.request.mime_type": "keyword",
    "http.request.referrer": "keyword",
    "http.request.body.content": "text",
    "http.request.body.bytes": "long",
    "http.response.status_code": "long",
    "http.response.mime_type": "keyword",
    "http.response.body.bytes": "long",
    "http.response.body.content": "text",
    "url.path": "keyword",
    "url.query": "keyword",
    "url.original": "keyword",
    "url.scheme": "keyword",
    "url.domain": "keyword",
    "url.port": "long",
    "client.ip": "ip",
    "source.ip": "ip",
    "user.id": "keyword",
    "user.name": "keyword",
    "user_agent.original": "keyword",
    "trace.id": "keyword",
    "host.hostname": "keyword",
    "process.pid": "long",
    "process.thread.name": "keyword",
    "error.type": "keyword",
    "error.message": "text",
    "error.stack_trace": "text",
    "reqlog.route": "keyword",
    "reqlog.view": "keyword",
    "reqlog.slow": "boolean",
    "reqlog.request.body.truncated": "boolean",
    "reqlog.request.body.kind": "keyword",
    "reqlog.response.body.truncated": "boolean",
    "reqlog.proxy_chain": "keyword",
    "reqlog.request.headers": "flattened",
    "event.start": "date",
    "event.end": "date",
    "url.full": "keyword",
    "client.port": "long",
    "source.port": "long",
    "span.id": "keyword",
    "transaction.id": "keyword",
    "reqlog.parent_span_id": "keyword",
    "reqlog.sample_rate": "double",
    "reqlog.sample_weight": "double",
    "reqlog.request.body.unread": "boolean",
    "reqlog.response.aborted": "boolean",
    **{
        f"reqlog.shipper.{k}": "long"
        for k in ("queued", "sent", "retried", "spooled", "dropped", "failed", "spool_bytes")
    },
}


def ecs_doc(**kwargs: Any) -> dict[str, Any]:
    with override_settings(**FULL_CAPTURE):
        doc: dict[str, Any] = ECSFormatter(service_name="shop").format_to_dict(
            full_request_record(**kwargs)
        )
    return doc


# ---------------------------------------------------------------- offline


@pytest.mark.parametrize("name", sorted(p.name for p in PACKAGED.glob("*.json")))
def test_elk_copy_is_identical_to_packaged(name: str) -> None:
    assert (REPO / "elk" / "elasticsearch" / name).read_bytes() == (PACKAGED / name).read_bytes()


@pytest.mark.parametrize(("field", "expected"), sorted(EXPECTED_TYPES.items()))
def test_field_has_contract_type(field: str, expected: str) -> None:
    assert template_field_types().get(field) == expected


def test_every_emitted_field_is_mapped() -> None:
    types = template_field_types()
    emitted = leaf_paths(ecs_doc(), types)
    # labels holds arbitrary `extra=` values: one flattened field by design.
    unmapped = sorted(p for p in emitted if p not in types)
    assert unmapped == []
    assert len(emitted) >= 50


@pytest.mark.parametrize(
    "field", ["http.request.body.content", "http.response.body.content", "error.stack_trace"]
)
def test_bodies_are_text_without_keyword_subfield(field: str) -> None:
    spec: dict[str, Any] = es_setup.load_resource("component-mappings.json")["template"]["mappings"]
    for part in field.split("."):
        spec = spec["properties"][part]
    assert spec == {"type": "text"}


def test_root_is_not_dynamic() -> None:
    mappings = es_setup.load_resource("component-mappings.json")["template"]["mappings"]
    assert mappings["dynamic"] is False


@pytest.mark.parametrize("retention", [1, 7, 90])
def test_retention_days_reach_the_delete_phase(retention: int) -> None:
    bodies = {
        name: body for _, name, body in es_setup.desired_bodies("data_stream", retention, True)
    }
    assert bodies[es_setup.POLICY]["policy"]["phases"]["delete"]["min_age"] == f"{retention}d"
    template = bodies[es_setup.DATA_STREAM_TEMPLATE]
    assert template["template"]["settings"]["index"]["lifecycle"]["name"] == es_setup.POLICY


def test_without_ilm_no_policy_is_referenced() -> None:
    bodies = es_setup.desired_bodies("alias", 30, False)
    assert [kind for kind, _, _ in bodies] == [
        "component_template",
        "component_template",
        "index_template",
    ]
    assert "lifecycle" not in json.dumps(bodies[-1][2])


def test_unreachable_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="unreachable"):
        call_command("reqlog_setup", url="http://127.0.0.1:9")


def test_no_configuration_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQLOG_ELASTICSEARCH_URL", raising=False)
    with pytest.raises(CommandError, match="No Elasticsearch configured"):
        call_command("reqlog_setup")


# ---------------------------------------------------------------- real node


def _options(es_settings: dict[str, str]) -> dict[str, Any]:
    return {"url": es_settings["url"], "ca_certs": es_settings["ca_certs"] or None}


@pytest.mark.es
def test_setup_twice_changes_nothing_the_second_time(es_client: Any) -> None:
    es_setup.run_setup(es_client)
    second = es_setup.run_setup(es_client)
    outcomes = {(s.kind, s.outcome) for s in second.steps}
    assert all(outcome in ("unchanged", "skipped") for _, outcome in outcomes), second.steps


@pytest.mark.es
def test_setup_command_output(
    es_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REQLOG_TEST_PW", es_settings["password"])
    call_command(
        "reqlog_setup",
        username=es_settings["username"],
        password_env="REQLOG_TEST_PW",
        **_options(es_settings),
    )
    out = capsys.readouterr().out
    assert "index template logs-django.reqlog" in out
    assert "Write target: logs-django.reqlog-default" in out


@pytest.mark.es
def test_dry_run_writes_nothing(es_client: Any, reqlog_templates: Any) -> None:
    es_client.options(ignore_status=404).indices.delete_index_template(name=es_setup.ALIAS_TEMPLATE)
    report = es_setup.run_setup(es_client, mode="alias", dry_run=True)
    assert es_setup.Step("index_template", es_setup.ALIAS_TEMPLATE, "would create") in report.steps
    assert not es_client.indices.exists_index_template(name=es_setup.ALIAS_TEMPLATE)
    es_setup.run_setup(es_client, mode="alias")
    assert es_client.indices.exists_index_template(name=es_setup.ALIAS_TEMPLATE)


@pytest.mark.es
def test_changed_template_is_updated(es_client: Any, reqlog_templates: Any) -> None:
    body = es_setup.load_resource("component-settings.json")
    body["_meta"]["reqlog_checksum"] = "stale"
    es_client.cluster.put_component_template(name=es_setup.COMPONENT_SETTINGS, **body)
    report = es_setup.run_setup(es_client)
    assert (
        es_setup.Step("component_template", es_setup.COMPONENT_SETTINGS, "updated") in report.steps
    )


@pytest.mark.es
def test_wrong_password_is_a_clear_error(
    es_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQLOG_TEST_PW", "not-the-password")
    with pytest.raises(CommandError, match=r"rejected the credentials \(401\)"):
        call_command(
            "reqlog_setup",
            username=es_settings["username"],
            password_env="REQLOG_TEST_PW",
            **_options(es_settings),
        )


@pytest.mark.es
def test_writer_may_write_but_not_install(
    es_settings: dict[str, str], es_client: Any, reqlog_templates: Any, es_namespace: str
) -> None:
    writer = make_client(
        es_settings, basic_auth=(es_settings["writer_username"], es_settings["writer_password"])
    )
    doc = ecs_doc()
    stream = es_setup.data_stream_name(es_namespace)
    assert writer.create(index=stream, id=doc["event"]["id"], document=doc)["result"] == "created"
    conn = es_setup.Connection(
        es_settings["url"],
        es_settings["writer_username"],
        es_settings["writer_password"],
        ca_certs=es_settings["ca_certs"],
    )
    # Setup has something to write (a stale template), which the writer may not do.
    body = es_setup.load_resource("component-settings.json")
    body["_meta"]["reqlog_checksum"] = "stale"
    es_client.cluster.put_component_template(name=es_setup.COMPONENT_SETTINGS, **body)
    try:
        with pytest.raises(Exception) as caught:
            es_setup.run_setup(writer)
    finally:
        es_setup.run_setup(es_client)
    assert "lacks a privilege (403)" in str(es_setup.explain(caught.value, conn))


@pytest.mark.es
def test_full_document_gets_the_mapped_types(
    es_client: Any, reqlog_templates: Any, es_namespace: str
) -> None:
    stream = es_setup.data_stream_name(es_namespace)
    doc = ecs_doc()
    es_client.create(index=stream, id=doc["event"]["id"], document=doc, refresh="true")
    types = template_field_types()
    caps = es_client.field_caps(index=stream, fields="*")["fields"]
    for path in leaf_paths(doc, types):
        assert path in caps, path
        assert next(iter(caps[path])) == types[path], path
    # Stored in our data stream, searchable by its id.
    hit = es_setup.find_event(es_client, stream, doc["event"]["id"])
    assert hit is not None and hit["_index"].startswith(f".ds-{stream}-")
    # The same id again is refused, so a replayed spool cannot duplicate.
    conflict = es_client.options(ignore_status=409).create(
        index=stream, id=doc["event"]["id"], document=doc
    )
    assert conflict.meta.status == 409


@pytest.mark.es
def test_malformed_and_unknown_values_do_not_lose_the_event(
    es_client: Any, reqlog_templates: Any, es_namespace: str
) -> None:
    stream = es_setup.data_stream_name(es_namespace)
    doc = ecs_doc()
    doc["client"]["ip"] = "not-an-ip"
    doc["surprise"] = {"nested": {"deep": 1}}
    doc["reqlog"]["request"]["headers"] = {f"x-h{i}": str(i) for i in range(300)}
    es_client.create(index=stream, id=doc["event"]["id"], document=doc, refresh="true")
    stored = es_setup.find_event(es_client, stream, doc["event"]["id"])
    assert stored is not None
    assert stored["_source"]["client"]["ip"] == "not-an-ip"
    assert stored["_ignored"] == ["client.ip"]
    mapping = es_client.indices.get_mapping(index=stream)
    props = next(iter(mapping.values()))["mappings"]["properties"]
    assert "surprise" not in props  # dynamic: false
    # 300 attacker-chosen header names, still one flattened field.
    assert props["reqlog"]["properties"]["request"]["properties"]["headers"]["type"] == "flattened"
    found = es_client.search(index=stream, query={"term": {"reqlog.request.headers.x-h299": "299"}})
    assert found["hits"]["total"]["value"] == 1


@pytest.mark.es
def test_alias_fallback_rolls_over_and_prunes(es_client: Any, reqlog_templates: Any) -> None:
    es_setup.run_setup(es_client, mode="alias")
    # Start from an empty write index, whatever earlier runs left on this node.
    es_client.indices.rollover(alias=es_setup.ALIAS)
    old = ecs_doc()
    old["@timestamp"] = "2020-01-01T00:00:00.000Z"
    old_index = es_client.index(
        index=es_setup.ALIAS, id=old["event"]["id"], document=old, refresh="true"
    )["_index"]
    es_client.indices.rollover(alias=es_setup.ALIAS)
    new = ecs_doc()
    new_index = es_client.index(
        index=es_setup.ALIAS, id=new["event"]["id"], document=new, refresh="true"
    )["_index"]
    deleted = es_setup.prune(es_client, es_setup.ALIAS, retention_days=30, now=time.time())
    assert old_index in deleted  # held only a 2020 event
    assert new_index not in deleted  # the write index is never pruned
    assert not es_client.indices.exists(index=old_index)
    assert es_setup.find_event(es_client, es_setup.ALIAS, new["event"]["id"]) is not None


@pytest.mark.es
def test_data_stream_prune_keeps_the_write_index(
    es_client: Any, reqlog_templates: Any, es_namespace: str
) -> None:
    stream = es_setup.data_stream_name(es_namespace)
    old = ecs_doc()
    old["@timestamp"] = "2020-01-01T00:00:00.000Z"
    es_client.create(index=stream, id=old["event"]["id"], document=old, refresh="true")
    # Nothing rolled over yet: the only backing index is the write index.
    assert es_setup.prune(es_client, stream, retention_days=30) == []
    es_client.indices.rollover(alias=stream)
    deleted = es_setup.prune(es_client, stream, retention_days=30, dry_run=True)
    assert len(deleted) == 1 and deleted[0].startswith(f".ds-{stream}-")
    assert es_client.indices.exists(index=deleted[0])  # dry run
    assert es_setup.prune(es_client, stream, retention_days=30) == deleted
    assert not es_client.indices.exists(index=deleted[0])


def test_kibana_import_reports_unreachable_kibana(
    es_settings: dict[str, str], tmp_path: Path
) -> None:
    ndjson = tmp_path / "objects.ndjson"
    ndjson.write_text('{"type":"index-pattern","id":"x","attributes":{"title":"logs-*"}}\n')
    conn = es_setup.Connection(es_settings["url"], "u", "p")
    with pytest.raises(
        es_setup.SetupError, match=r"Kibana at http://127\.0\.0\.1:9 is unreachable"
    ):
        es_setup.kibana_import("http://127.0.0.1:9", [ndjson], conn, timeout=2)


def test_namespace_rules() -> None:
    assert es_setup.data_stream_name("prod") == "logs-django.reqlog-prod"
    for bad in ("Prod", "a-b", ""):
        with pytest.raises(es_setup.SetupError):
            es_setup.data_stream_name(bad)
