"""Rollover and pruning without ILM, against the real node."""

from __future__ import annotations

import time
from typing import Any

import pytest

from django_reqlog.elastic import check, install, names, retention
from tests.helpers.es_fixtures import ecs_doc


@pytest.mark.es
def test_alias_fallback_rolls_over_and_prunes(es_client: Any, reqlog_templates: Any) -> None:
    install.run_setup(es_client, mode="alias")
    # Start from an empty write index, whatever earlier runs left on this node.
    es_client.indices.rollover(alias=names.ALIAS)
    old = ecs_doc()
    old["@timestamp"] = "2020-01-01T00:00:00.000Z"
    old_index = es_client.index(
        index=names.ALIAS, id=old["event"]["id"], document=old, refresh="true"
    )["_index"]
    es_client.indices.rollover(alias=names.ALIAS)
    new = ecs_doc()
    new_index = es_client.index(
        index=names.ALIAS, id=new["event"]["id"], document=new, refresh="true"
    )["_index"]
    deleted = retention.prune(es_client, names.ALIAS, retention_days=30, now=time.time())
    assert old_index in deleted  # held only a 2020 event
    assert new_index not in deleted  # the write index is never pruned
    assert not es_client.indices.exists(index=old_index)
    assert check.find_event(es_client, names.ALIAS, new["event"]["id"]) is not None


@pytest.mark.es
def test_data_stream_prune_keeps_the_write_index(
    es_client: Any, reqlog_templates: Any, es_namespace: str
) -> None:
    stream = names.data_stream_name(es_namespace)
    old = ecs_doc()
    old["@timestamp"] = "2020-01-01T00:00:00.000Z"
    es_client.create(index=stream, id=old["event"]["id"], document=old, refresh="true")
    # Nothing rolled over yet: the only backing index is the write index.
    assert retention.prune(es_client, stream, retention_days=30) == []
    es_client.indices.rollover(alias=stream)
    deleted = retention.prune(es_client, stream, retention_days=30, dry_run=True)
    assert len(deleted) == 1 and deleted[0].startswith(f".ds-{stream}-")
    assert es_client.indices.exists(index=deleted[0])  # dry run
    assert retention.prune(es_client, stream, retention_days=30) == deleted
    assert not es_client.indices.exists(index=deleted[0])
