"""``run_setup`` against the real node: idempotent, dry runs, updates, privileges."""

from __future__ import annotations

from typing import Any

import pytest

from django_reqlog.elastic import install, names, resource_files
from django_reqlog.elastic.connection import Connection, explain
from tests.helpers.es_fixtures import ecs_doc, make_client


@pytest.mark.es
def test_setup_twice_changes_nothing_the_second_time(es_client: Any) -> None:
    install.run_setup(es_client)
    second = install.run_setup(es_client)
    outcomes = {(s.kind, s.outcome) for s in second.steps}
    assert all(outcome in ("unchanged", "skipped") for _, outcome in outcomes), second.steps


@pytest.mark.es
def test_dry_run_writes_nothing(es_client: Any, reqlog_templates: Any) -> None:
    es_client.options(ignore_status=404).indices.delete_index_template(name=names.ALIAS_TEMPLATE)
    report = install.run_setup(es_client, mode="alias", dry_run=True)
    assert install.Step("index_template", names.ALIAS_TEMPLATE, "would create") in report.steps
    assert not es_client.indices.exists_index_template(name=names.ALIAS_TEMPLATE)
    install.run_setup(es_client, mode="alias")
    assert es_client.indices.exists_index_template(name=names.ALIAS_TEMPLATE)


@pytest.mark.es
def test_changed_template_is_updated(es_client: Any, reqlog_templates: Any) -> None:
    body = resource_files.load_resource("component-settings.json")
    body["_meta"]["reqlog_checksum"] = "stale"
    es_client.cluster.put_component_template(name=names.COMPONENT_SETTINGS, **body)
    report = install.run_setup(es_client)
    assert install.Step("component_template", names.COMPONENT_SETTINGS, "updated") in report.steps


@pytest.mark.es
def test_writer_may_write_but_not_install(
    es_settings: dict[str, str], es_client: Any, reqlog_templates: Any, es_namespace: str
) -> None:
    writer = make_client(
        es_settings, basic_auth=(es_settings["writer_username"], es_settings["writer_password"])
    )
    doc = ecs_doc()
    stream = names.data_stream_name(es_namespace)
    assert writer.create(index=stream, id=doc["event"]["id"], document=doc)["result"] == "created"
    conn = Connection(
        es_settings["url"],
        es_settings["writer_username"],
        es_settings["writer_password"],
        ca_certs=es_settings["ca_certs"],
    )
    # Setup has something to write (a stale template), which the writer may not do.
    body = resource_files.load_resource("component-settings.json")
    body["_meta"]["reqlog_checksum"] = "stale"
    es_client.cluster.put_component_template(name=names.COMPONENT_SETTINGS, **body)
    try:
        with pytest.raises(Exception) as caught:
            install.run_setup(writer)
    finally:
        install.run_setup(es_client)
    assert "lacks a privilege (403)" in str(explain(caught.value, conn))
