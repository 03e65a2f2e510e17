"""The index template: the mapping contract offline, the bodies setup installs,
and the real node's verdict on a full document."""

from __future__ import annotations

import json
from typing import Any

import pytest

from django_reqlog.elastic import check, names, resource_files, templates
from tests.helpers.es_fixtures import ecs_doc, leaf_paths, template_field_types

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
    "labels": "flattened",
    "reqlog.labels_dropped": "long",
    "reqlog.db.queries": "long",
    "reqlog.db.duration": "long",
    "reqlog.db.slowest": "long",
    "reqlog.db.slowest_statement": "keyword",
    **{
        f"reqlog.shipper.{k}": "long"
        for k in ("queued", "sent", "retried", "spooled", "dropped", "failed", "spool_bytes")
    },
}


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
    spec: dict[str, Any] = resource_files.load_resource("component-mappings.json")["template"][
        "mappings"
    ]
    for part in field.split("."):
        spec = spec["properties"][part]
    assert spec == {"type": "text"}


def test_root_is_not_dynamic() -> None:
    mappings = resource_files.load_resource("component-mappings.json")["template"]["mappings"]
    assert mappings["dynamic"] is False


@pytest.mark.parametrize("retention", [1, 7, 90])
def test_retention_days_reach_the_delete_phase(retention: int) -> None:
    bodies = {
        name: body for _, name, body in templates.desired_bodies("data_stream", retention, True)
    }
    assert bodies[names.POLICY]["policy"]["phases"]["delete"]["min_age"] == f"{retention}d"
    template = bodies[names.DATA_STREAM_TEMPLATE]
    assert template["template"]["settings"]["index"]["lifecycle"]["name"] == names.POLICY


def test_without_ilm_no_policy_is_referenced() -> None:
    bodies = templates.desired_bodies("alias", 30, False)
    assert [kind for kind, _, _ in bodies] == [
        "component_template",
        "component_template",
        "index_template",
    ]
    assert "lifecycle" not in json.dumps(bodies[-1][2])


@pytest.mark.es
def test_full_document_gets_the_mapped_types(
    es_client: Any, reqlog_templates: Any, es_namespace: str
) -> None:
    stream = names.data_stream_name(es_namespace)
    doc = ecs_doc()
    es_client.create(index=stream, id=doc["event"]["id"], document=doc, refresh="true")
    types = template_field_types()
    caps = es_client.field_caps(index=stream, fields="*")["fields"]
    for path in leaf_paths(doc, types):
        assert path in caps, path
        assert next(iter(caps[path])) == types[path], path
    # Stored in our data stream, searchable by its id.
    hit = check.find_event(es_client, stream, doc["event"]["id"])
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
    stream = names.data_stream_name(es_namespace)
    doc = ecs_doc()
    doc["client"]["ip"] = "not-an-ip"
    doc["surprise"] = {"nested": {"deep": 1}}
    doc["reqlog"]["request"]["headers"] = {f"x-h{i}": str(i) for i in range(300)}
    es_client.create(index=stream, id=doc["event"]["id"], document=doc, refresh="true")
    stored = check.find_event(es_client, stream, doc["event"]["id"])
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
def test_bound_labels_can_be_filtered_on(
    es_client: Any, reqlog_templates: Any, es_namespace: str
) -> None:
    """django_reqlog.bind()'s fields land in labels, one flattened field:
    a Kibana filter on labels.<name> is a term query on it."""
    stream = names.data_stream_name(es_namespace)
    doc = ecs_doc()
    assert doc["labels"] == {"tenant": "acme", "order_id": 42}
    es_client.create(index=stream, id=doc["event"]["id"], document=doc, refresh="true")
    for query in (
        {"term": {"labels.tenant": "acme"}},
        {"term": {"labels.order_id": "42"}},
        {"query_string": {"query": "labels.tenant:acme AND reqlog.db.queries:>=4"}},
    ):
        found = es_client.search(index=stream, query=query)
        assert [h["_id"] for h in found["hits"]["hits"]] == [doc["event"]["id"]], query
