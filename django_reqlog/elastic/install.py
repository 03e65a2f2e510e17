"""Install the policy, templates and write target: the work of ``reqlog_setup``.

Every step is an upsert keyed on the checksum in ``_meta``, so running setup
twice changes nothing the second time. Features the cluster lacks (ILM and
the data stream API are missing from Elastic's minimal distribution and from
OSS builds) are detected and reported as skipped, never faked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django_reqlog.elastic import rest
from django_reqlog.elastic.errors import ElasticError
from django_reqlog.elastic.names import ALIAS, MODES, POLICY, data_stream_name
from django_reqlog.elastic.templates import desired_bodies, stamped_checksum

PATHS = {
    "ilm_policy": "/_ilm/policy/{}",
    "component_template": "/_component_template/{}",
    "index_template": "/_index_template/{}",
}


@dataclass
class Step:
    kind: str
    name: str
    outcome: str  # created | updated | unchanged | skipped | would create | would update
    detail: str = ""

    def line(self) -> str:
        text = f"{self.outcome:<13} {self.kind.replace('_', ' ')} {self.name}"
        return f"{text} - {self.detail}" if self.detail else text


@dataclass
class SetupReport:
    mode: str
    target: str
    ilm: bool
    data_stream_api: bool
    steps: list[Step] = field(default_factory=list)


def run_setup(
    client: Any,
    *,
    mode: str = "auto",
    namespace: str = "default",
    retention_days: int = 30,
    dry_run: bool = False,
) -> SetupReport:
    """Install policy, templates and the write target; idempotent."""
    if mode not in MODES:
        raise ElasticError(f"mode must be one of {MODES}, not {mode!r}")
    features = detect_features(client)
    if mode == "auto":
        mode = "data_stream"
    target = data_stream_name(namespace) if mode == "data_stream" else ALIAS
    report = SetupReport(mode, target, features["ilm"], features["data_stream_api"])
    if not features["ilm"]:
        detail = "ILM is not available on this cluster; use `reqlog_setup --prune` for retention"
        report.steps.append(Step("ilm_policy", POLICY, "skipped", detail))
    for kind, name, body in desired_bodies(mode, retention_days, features["ilm"]):
        report.steps.append(_upsert(client, kind, name, body, dry_run))
    report.steps.append(_ensure_target(client, mode, target, features, dry_run))
    return report


def detect_features(client: Any) -> dict[str, bool]:
    features = {"ilm": True, "data_stream_api": True}
    try:
        rest.get_json(client, "/_ilm/status")
    except Exception as exc:
        if not rest.endpoint_missing(exc):
            raise
        features["ilm"] = False
    try:
        rest.get_json(client, "/_data_stream/reqlog-feature-probe")
    except Exception as exc:
        if rest.endpoint_missing(exc):
            features["data_stream_api"] = False
        elif rest.status_of(exc) != 404:
            raise
    return features


def _upsert(client: Any, kind: str, name: str, body: dict[str, Any], dry_run: bool) -> Step:
    current = _existing(client, kind, name)
    if current is not None and stamped_checksum(current) == stamped_checksum(body):
        return Step(kind, name, "unchanged")
    if dry_run:
        return Step(kind, name, "would create" if current is None else "would update")
    rest.send_json(client, "PUT", PATHS[kind].format(name), body)
    return Step(kind, name, "created" if current is None else "updated")


def _existing(client: Any, kind: str, name: str) -> dict[str, Any] | None:
    """What is stored under ``name`` (the policy itself, or the template), or ``None``."""
    try:
        body = rest.get_json(client, PATHS[kind].format(name))
    except Exception as exc:
        if rest.status_of(exc) == 404:
            return None
        raise
    if kind == "ilm_policy":
        found: dict[str, Any] = body[name]["policy"]
        return found
    entries = body.get(f"{kind}s") or []
    if not entries:
        return None
    inner: dict[str, Any] = entries[0][kind]
    return inner


def resolve(client: Any, target: str) -> dict[str, Any]:
    """What ``target`` names: data streams, aliases, indices (empty when nothing)."""
    try:
        body: dict[str, Any] = rest.get_json(
            client, f"/_resolve/index/{target}", expand_wildcards="all"
        )
    except Exception as exc:
        if rest.status_of(exc) == 404:
            return {}
        raise
    return body


def target_exists(client: Any, target: str) -> bool:
    body = resolve(client, target)
    return bool(body.get("data_streams") or body.get("aliases") or body.get("indices"))


def _ensure_target(
    client: Any, mode: str, target: str, features: dict[str, bool], dry_run: bool
) -> Step:
    kind = "data_stream" if mode == "data_stream" else "write_alias"
    if target_exists(client, target):
        return Step(kind, target, "unchanged")
    if mode == "data_stream" and not features["data_stream_api"]:
        # The template is in place, so the first write (privilege
        # auto_configure) creates the stream with our mappings.
        return Step(kind, target, "skipped", "no data stream API here; created by the first event")
    if dry_run:
        return Step(kind, target, "would create")
    if mode == "data_stream":
        _create(client, f"/_data_stream/{target}", None)
        return Step(kind, target, "created")
    _create(client, f"/{ALIAS}-000001", {"aliases": {ALIAS: {"is_write_index": True}}})
    return Step(kind, target, "created", f"first index {ALIAS}-000001")


def _create(client: Any, path: str, body: dict[str, Any] | None) -> None:
    """PUT ``path``; a concurrent run that created it first is not an error."""
    try:
        rest.send_json(client, "PUT", path, body)
    except Exception as exc:
        if not rest.already_exists(exc):
            raise
