"""Rollover and deletion by age, for clusters without ILM (run from cron)."""

from __future__ import annotations

import time
from typing import Any

from django_reqlog.elastic import rest
from django_reqlog.elastic.install import resolve, target_exists


def rollover(client: Any, target: str, max_age: str = "1d", dry_run: bool = False) -> str:
    """Roll ``target`` over if its write index is older than ``max_age`` or large."""
    if not target_exists(client, target):
        return f"no rollover: {target} does not exist yet"
    body = {"conditions": {"max_age": max_age, "max_primary_shard_size": "10gb"}}
    params = {"dry_run": "true"} if dry_run else {}
    response = rest.send_json(client, "POST", f"/{target}/_rollover", body, **params)
    if response.get("rolled_over"):
        return f"rolled over {response['old_index']} -> {response['new_index']}"
    if dry_run and any(response.get("conditions", {}).values()):
        return f"would roll over {response['old_index']} -> {response['new_index']}"
    return f"no rollover: {response.get('old_index')} is younger than {max_age} and small"


def prune(
    client: Any, target: str, retention_days: int, dry_run: bool = False, now: float | None = None
) -> list[str]:
    """Delete non-write indices of ``target`` whose newest event is older than the
    retention: the delete phase of the ILM policy, for clusters without ILM."""
    now = time.time() if now is None else now
    cutoff_ms = (now - retention_days * 86400) * 1000
    deleted: list[str] = []
    for index in _rolled_over(client, target):
        if _newest_event_ms(client, index) < cutoff_ms:
            if not dry_run:
                rest.send_json(client, "DELETE", f"/{index}")
            deleted.append(index)
    return deleted


def _rolled_over(client: Any, target: str) -> list[str]:
    """The backing indices of ``target``, never its write index."""
    resolved = resolve(client, target)
    backing: list[str] = []
    for stream in resolved.get("data_streams", []):
        backing.extend(stream["backing_indices"][:-1])
    for alias in resolved.get("aliases", []):
        backing.extend(sorted(alias["indices"])[:-1])
    return backing


def _newest_event_ms(client: Any, index: str) -> float:
    """The newest ``@timestamp`` in ``index`` (epoch ms); an empty index counts as ancient."""
    body = {"size": 0, "aggs": {"newest": {"max": {"field": "@timestamp"}}}}
    stats = rest.send_json(client, "POST", f"/{index}/_search", body)
    newest = stats["aggregations"]["newest"]["value"]
    return float("-inf") if newest is None else float(newest)
