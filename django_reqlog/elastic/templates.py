"""The bodies ``reqlog_setup`` installs, stamped with a checksum.

Each body records a checksum of itself in ``_meta``, so a re-run can tell
"unchanged" from one GET, without comparing what Elasticsearch normalised.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from django_reqlog.elastic.errors import ElasticError
from django_reqlog.elastic.names import (
    ALIAS,
    ALIAS_TEMPLATE,
    COMPONENT_MAPPINGS,
    COMPONENT_SETTINGS,
    DATA_STREAM_TEMPLATE,
    POLICY,
)
from django_reqlog.elastic.resource_files import load_resource

Body = tuple[str, str, dict[str, Any]]  # (kind, name, body)


def desired_bodies(mode: str, retention_days: int, ilm: bool) -> list[Body]:
    """(kind, name, body) in install order for ``mode`` 'data_stream' or 'alias'."""
    if retention_days < 1:
        raise ElasticError("retention must be at least 1 day")
    bodies: list[Body] = []
    if ilm:
        policy = load_resource("ilm-policy.json")
        policy["policy"]["phases"]["delete"]["min_age"] = f"{retention_days}d"
        bodies.append(("ilm_policy", POLICY, policy))
    bodies.append(
        ("component_template", COMPONENT_MAPPINGS, load_resource("component-mappings.json"))
    )
    bodies.append(
        ("component_template", COMPONENT_SETTINGS, load_resource("component-settings.json"))
    )
    bodies.append(_index_template(mode, ilm))
    return [(kind, name, stamp(body)) for kind, name, body in bodies]


def _index_template(mode: str, ilm: bool) -> Body:
    if mode == "data_stream":
        template = load_resource("index-template.json")
        name = DATA_STREAM_TEMPLATE
        lifecycle: dict[str, Any] = {"name": POLICY}
    else:
        template = load_resource("index-template-alias.json")
        name = ALIAS_TEMPLATE
        lifecycle = {"name": POLICY, "rollover_alias": ALIAS}
    if ilm:
        template["template"] = {"settings": {"index": {"lifecycle": lifecycle}}}
    return ("index_template", name, template)


def checksum(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()[:16]


def stamp(body: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``body`` with its checksum in ``_meta.reqlog_checksum``."""
    stamped = copy.deepcopy(body)
    meta_holder = stamped.get("policy", stamped)
    meta = dict(meta_holder.get("_meta") or {})
    meta.pop("reqlog_checksum", None)
    meta_holder["_meta"] = meta
    meta["reqlog_checksum"] = checksum(stamped)
    return stamped


def stamped_checksum(body: dict[str, Any] | None) -> str | None:
    """The checksum a (stored or desired) body carries, if any."""
    holder = (body or {}).get("policy") or body or {}
    found = (holder.get("_meta") or {}).get("reqlog_checksum")
    return None if found is None else str(found)
