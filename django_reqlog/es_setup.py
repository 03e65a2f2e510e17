"""Install and check what django-reqlog needs in Elasticsearch.

Used by ``manage.py reqlog_setup`` and ``manage.py reqlog_check``. The JSON
bodies live in ``django_reqlog/resources/elasticsearch/`` (the copies in
``elk/elasticsearch/`` are kept identical by a test), so the package, the
compose stack and a hand-run ``curl`` all install the same thing.

Every step is an upsert keyed on a checksum stored in ``_meta``, so running
setup twice changes nothing the second time. Features the cluster lacks (ILM
and the data stream API are missing from Elastic's minimal distribution, and
from OSS builds) are detected and reported as skipped, never faked.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from django_reqlog.conf import conf

logger = logging.getLogger(__name__)

COMPONENT_MAPPINGS = "django-reqlog@mappings"
COMPONENT_SETTINGS = "django-reqlog@settings"
DATA_STREAM_TEMPLATE = "logs-django.reqlog"
ALIAS_TEMPLATE = "reqlog-events"
ALIAS = "reqlog-events"
POLICY = "django-reqlog"
DATASET = "django.reqlog"
MODES = ("auto", "data_stream", "alias")

# What `reqlog_check` searches when no index is configured: the data stream
# family and the alias fallback.
DEFAULT_SEARCH_TARGET = "logs-django.reqlog-*,reqlog-events*"


class SetupError(Exception):
    """A failure with a message fit for the operator (unreachable, 401, 403...)."""


# --------------------------------------------------------------------------- settings


def data_stream_name(namespace: str) -> str:
    if not namespace or "-" in namespace or namespace != namespace.lower():
        raise SetupError(f"namespace {namespace!r} must be lower-case and contain no '-'")
    return f"logs-{DATASET}-{namespace}"


# --------------------------------------------------------------------------- resources


def resource_dir() -> Path:
    return Path(str(resources.files("django_reqlog") / "resources" / "elasticsearch"))


def load_resource(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((resource_dir() / name).read_text(encoding="utf-8"))
    return data


def _checksum(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()[:16]


def _stamp(body: dict[str, Any]) -> dict[str, Any]:
    """Record our checksum in ``_meta`` so re-runs can tell 'unchanged' cheaply."""
    stamped = copy.deepcopy(body)
    meta_holder = stamped.get("policy", stamped)
    meta = dict(meta_holder.get("_meta") or {})
    meta.pop("reqlog_checksum", None)
    meta_holder["_meta"] = meta
    meta["reqlog_checksum"] = _checksum(stamped)
    return stamped


def desired_bodies(
    mode: str, retention_days: int, ilm: bool
) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, name, body) in install order for ``mode`` 'data_stream' or 'alias'."""
    if retention_days < 1:
        raise SetupError("retention must be at least 1 day")
    bodies: list[tuple[str, str, dict[str, Any]]] = []
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
    bodies.append(("index_template", name, template))
    return [(kind, name, _stamp(body)) for kind, name, body in bodies]


# --------------------------------------------------------------------------- connection


@dataclass
class Connection:
    url: str
    username: str | None = None
    password: str | None = None
    api_key: str | None = None
    ca_certs: str | None = None
    source: str = "settings"

    def client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"request_timeout": 10, "max_retries": 0}
        if self.api_key:
            kwargs["api_key"] = self.api_key
        elif self.username:
            kwargs["basic_auth"] = (self.username, self.password or "")
        if self.ca_certs:
            kwargs["ca_certs"] = self.ca_certs
        return kwargs

    def describe(self) -> str:
        auth = (
            "api key" if self.api_key else (f"user {self.username}" if self.username else "no auth")
        )
        return f"{self.url} ({auth}, from {self.source})"


def handlers_of(logger_name: str = "django_reqlog") -> list[logging.Handler]:
    """Handlers a record on ``logger_name`` reaches, in order, following propagation."""
    found: list[logging.Handler] = []
    current: logging.Logger | None = logging.getLogger(logger_name)
    while current is not None:
        found.extend(h for h in current.handlers if h not in found)
        current = current.parent if current.propagate else None
    return found


def resolve_connection(
    url: str | None = None,
    username: str | None = None,
    password: str | None = None,
    api_key: str | None = None,
    ca_certs: str | None = None,
) -> Connection:
    """Command-line options, then ``REQLOG_ELASTICSEARCH_*``, then the first
    ``ElasticsearchHandler`` configured on ``django_reqlog``."""
    if url:
        return Connection(url, username, password, api_key, ca_certs, source="command line")
    if conf.elasticsearch_url:
        return Connection(
            conf.elasticsearch_url,
            username or conf.elasticsearch_username,
            password or conf.elasticsearch_password,
            api_key or conf.elasticsearch_api_key,
            ca_certs or conf.elasticsearch_ca_certs,
            source="REQLOG_ELASTICSEARCH_URL",
        )
    for handler in handlers_of():
        hosts = getattr(handler, "hosts", None)
        options = getattr(handler, "client_options", None)
        if type(handler).__name__ == "ElasticsearchHandler" and hosts and isinstance(options, dict):
            basic = options.get("basic_auth") or (None, None)
            key = options.get("api_key")
            if isinstance(key, tuple):
                key = None  # (id, key) pairs are passed through client_kwargs below
            conn = Connection(
                hosts[0],
                username or basic[0],
                password or basic[1],
                api_key or key,
                ca_certs or options.get("ca_certs"),
                source=f"LOGGING handler {handler.get_name() or type(handler).__name__}",
            )
            return conn
    raise SetupError(
        "No Elasticsearch configured: set REQLOG_ELASTICSEARCH_URL (and credentials), "
        "pass --url, or configure an ElasticsearchHandler on the django_reqlog logger."
    )


def make_client(conn: Connection) -> Any:
    try:
        from elasticsearch import Elasticsearch
    except ImportError as exc:  # the client is an optional extra
        raise SetupError(
            "the elasticsearch client is not installed: pip install 'django-reqlog[elasticsearch]'"
        ) from exc
    return Elasticsearch(conn.url, **conn.client_kwargs())


def explain(exc: Exception, conn: Connection) -> SetupError:
    """Turn client exceptions into one line an operator can act on."""
    import elasticsearch

    where = conn.describe()
    if isinstance(exc, elasticsearch.AuthenticationException):
        return SetupError(f"Elasticsearch at {where} rejected the credentials (401).")
    if isinstance(exc, elasticsearch.AuthorizationException):
        return SetupError(
            f"The user at {where} lacks a privilege (403): setup needs cluster privileges "
            f"manage_index_templates and manage_ilm. {_reason(exc)}"
        )
    if isinstance(exc, elasticsearch.ConnectionError):
        return SetupError(f"Elasticsearch at {where} is unreachable: {exc.message}")
    if isinstance(exc, elasticsearch.ApiError):
        return SetupError(f"Elasticsearch at {where} answered {exc.meta.status}: {_reason(exc)}")
    return SetupError(f"Elasticsearch at {where} failed: {exc!r}")


def _reason(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return f"{error.get('type')}: {error.get('reason')}"
        return str(error or body)
    return str(body or exc)


def _status(exc: Exception) -> int:
    meta = getattr(exc, "meta", None)
    return int(getattr(meta, "status", 0) or 0)


def _no_handler(exc: Exception) -> bool:
    """True when the REST endpoint itself is missing (module not installed)."""
    text = _reason(exc)
    return _status(exc) in (400, 404, 405) and (
        "no handler found" in text
        or "Incorrect HTTP method" in text
        or "invalid_index_name_exception" in text
    )


# --------------------------------------------------------------------------- setup


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


def detect_features(client: Any) -> dict[str, bool]:
    features = {"ilm": True, "data_stream_api": True}
    try:
        client.perform_request("GET", "/_ilm/status", headers={"accept": "application/json"})
    except Exception as exc:
        if not _no_handler(exc):
            raise
        features["ilm"] = False
    try:
        client.perform_request(
            "GET", "/_data_stream/reqlog-feature-probe", headers={"accept": "application/json"}
        )
    except Exception as exc:
        if _no_handler(exc):
            features["data_stream_api"] = False
        elif _status(exc) != 404:
            raise
    return features


def _existing(client: Any, kind: str, name: str) -> dict[str, Any] | None:
    path = {
        "ilm_policy": f"/_ilm/policy/{name}",
        "component_template": f"/_component_template/{name}",
        "index_template": f"/_index_template/{name}",
    }[kind]
    try:
        response = client.perform_request("GET", path, headers={"accept": "application/json"})
    except Exception as exc:
        if _status(exc) == 404:
            return None
        raise
    body = response.body
    if kind == "ilm_policy":
        found: dict[str, Any] = body[name]["policy"]
        return found
    key = "component_templates" if kind == "component_template" else "index_templates"
    entries = body.get(key) or []
    if not entries:
        return None
    inner: dict[str, Any] = entries[0][kind]
    return inner


def _put(client: Any, kind: str, name: str, body: dict[str, Any]) -> None:
    path = {
        "ilm_policy": f"/_ilm/policy/{name}",
        "component_template": f"/_component_template/{name}",
        "index_template": f"/_index_template/{name}",
    }[kind]
    client.perform_request(
        "PUT",
        path,
        body=body,
        headers={"accept": "application/json", "content-type": "application/json"},
    )


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
        raise SetupError(f"mode must be one of {MODES}, not {mode!r}")
    features = detect_features(client)
    if mode == "auto":
        mode = "data_stream"
    target = data_stream_name(namespace) if mode == "data_stream" else ALIAS
    report = SetupReport(mode, target, features["ilm"], features["data_stream_api"])
    if not features["ilm"]:
        report.steps.append(
            Step(
                "ilm_policy",
                POLICY,
                "skipped",
                "ILM is not available on this cluster; use `reqlog_setup --prune` for retention",
            )
        )
    for kind, name, body in desired_bodies(mode, retention_days, features["ilm"]):
        current = _existing(client, kind, name)
        wanted = (body.get("policy") or body)["_meta"]["reqlog_checksum"]
        have = ((current or {}).get("_meta") or {}).get("reqlog_checksum")
        if current is not None and have == wanted:
            report.steps.append(Step(kind, name, "unchanged"))
            continue
        outcome = "created" if current is None else "updated"
        if dry_run:
            report.steps.append(
                Step(kind, name, "would create" if current is None else "would update")
            )
            continue
        _put(client, kind, name, body)
        report.steps.append(Step(kind, name, outcome))
    report.steps.append(_ensure_target(client, mode, target, features, dry_run))
    return report


def _resolve(client: Any, target: str) -> dict[str, Any]:
    """What ``target`` names: data streams, aliases, indices (empty when nothing)."""
    try:
        response = client.perform_request(
            "GET",
            f"/_resolve/index/{target}",
            headers={"accept": "application/json"},
            params={"expand_wildcards": "all"},
        )
    except Exception as exc:
        if _status(exc) == 404:
            return {}
        raise
    body: dict[str, Any] = response.body
    return body


def _target_exists(client: Any, target: str) -> bool:
    body = _resolve(client, target)
    return bool(body.get("data_streams") or body.get("aliases") or body.get("indices"))


def _ensure_target(
    client: Any, mode: str, target: str, features: dict[str, bool], dry_run: bool
) -> Step:
    kind = "data_stream" if mode == "data_stream" else "write_alias"
    if _target_exists(client, target):
        return Step(kind, target, "unchanged")
    if mode == "data_stream" and not features["data_stream_api"]:
        # The template is in place, so the first write (privilege
        # auto_configure) creates the stream with our mappings.
        return Step(kind, target, "skipped", "no data stream API here; created by the first event")
    if dry_run:
        return Step(kind, target, "would create")
    if mode == "data_stream":
        try:
            client.perform_request(
                "PUT", f"/_data_stream/{target}", headers={"accept": "application/json"}
            )
        except Exception as exc:
            if "resource_already_exists" not in _reason(exc):
                raise
        return Step(kind, target, "created")
    try:
        client.perform_request(
            "PUT",
            f"/{ALIAS}-000001",
            body={"aliases": {ALIAS: {"is_write_index": True}}},
            headers={"accept": "application/json", "content-type": "application/json"},
        )
    except Exception as exc:
        if "resource_already_exists" not in _reason(exc):
            raise
    return Step(kind, target, "created", f"first index {ALIAS}-000001")


# --------------------------------------------------------------------------- retention without ILM


def rollover(client: Any, target: str, max_age: str = "1d", dry_run: bool = False) -> str:
    """Conditional rollover, for clusters without ILM (run it from cron)."""
    body = {"conditions": {"max_age": max_age, "max_primary_shard_size": "10gb"}}
    params = {"dry_run": "true"} if dry_run else {}
    if not _target_exists(client, target):
        return f"no rollover: {target} does not exist yet"
    response = client.perform_request(
        "POST",
        f"/{target}/_rollover",
        body=body,
        params=params,
        headers={"accept": "application/json", "content-type": "application/json"},
    ).body
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
    resolved = _resolve(client, target)
    backing: list[str] = []
    for stream in resolved.get("data_streams", []):
        backing.extend(stream["backing_indices"][:-1])  # never the write index
    for alias in resolved.get("aliases", []):
        indices = sorted(alias["indices"])
        backing.extend(indices[:-1])
    deleted: list[str] = []
    for index in backing:
        stats = client.perform_request(
            "POST",
            f"/{index}/_search",
            body={"size": 0, "aggs": {"newest": {"max": {"field": "@timestamp"}}}},
            headers={"accept": "application/json", "content-type": "application/json"},
        ).body
        newest = stats["aggregations"]["newest"]["value"]
        if newest is None or newest < cutoff_ms:
            if not dry_run:
                client.perform_request(
                    "DELETE", f"/{index}", headers={"accept": "application/json"}
                )
            deleted.append(index)
    return deleted


# --------------------------------------------------------------------------- Kibana


def kibana_ndjson_files(extra: Sequence[str] = ()) -> list[Path]:
    """Saved objects to import: packaged ones, else the repository's elk/kibana."""
    paths = [Path(p) for p in extra]
    if paths:
        return paths
    packaged = Path(str(resources.files("django_reqlog") / "resources" / "kibana"))
    if packaged.is_dir():
        return sorted(packaged.glob("*.ndjson"))
    repo = Path(__file__).resolve().parents[1] / "elk" / "kibana"
    return sorted(repo.glob("*.ndjson")) if repo.is_dir() else []


def kibana_import(
    kibana_url: str,
    files: Iterable[Path],
    conn: Connection,
    timeout: float = 30.0,
) -> list[str]:
    """POST each NDJSON file to Kibana's saved-objects ``_import`` (overwrite)."""
    import base64
    import ssl

    results = []
    for path in files:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{path.name}"\r\nContent-Type: application/ndjson\r\n\r\n'
            ).encode()
            + path.read_bytes()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {
            "kbn-xsrf": "reqlog_setup",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        }
        if conn.api_key:
            headers["Authorization"] = f"ApiKey {conn.api_key}"
        elif conn.username:
            token = base64.b64encode(f"{conn.username}:{conn.password or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        request = urllib.request.Request(
            kibana_url.rstrip("/") + "/api/saved_objects/_import?overwrite=true",
            data=body,
            headers=headers,
            method="POST",
        )
        context = ssl.create_default_context(cafile=conn.ca_certs) if conn.ca_certs else None
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise SetupError(
                f"Kibana import of {path.name} failed: {exc.code} {exc.reason}"
            ) from exc
        except OSError as exc:
            raise SetupError(f"Kibana at {kibana_url} is unreachable: {exc}") from exc
        if not answer.get("success", False):
            raise SetupError(f"Kibana rejected {path.name}: {answer.get('errors')}")
        results.append(f"imported {answer.get('successCount', 0)} objects from {path.name}")
    return results


# --------------------------------------------------------------------------- check


def find_event(client: Any, target: str, event_id: str) -> dict[str, Any] | None:
    """The event with this id, if searchable yet (ECS ``event.id`` or raw ``event_id``)."""
    response = client.perform_request(
        "POST",
        f"/{target}/_search",
        params={
            "ignore_unavailable": "true",
            "allow_no_indices": "true",
            "expand_wildcards": "open",
        },
        body={
            "size": 1,
            "query": {
                "bool": {
                    "should": [
                        {"term": {"event.id": event_id}},
                        {"ids": {"values": [event_id]}},
                    ],
                    "minimum_should_match": 1,
                }
            },
        },
        headers={"accept": "application/json", "content-type": "application/json"},
    ).body
    hits = response.get("hits", {}).get("hits", [])
    return hits[0] if hits else None


def wait_for_event(
    client: Any, target: str, event_id: str, timeout: float, interval: float = 0.2
) -> tuple[dict[str, Any] | None, float]:
    started = time.monotonic()
    while True:
        hit = find_event(client, target, event_id)
        elapsed = time.monotonic() - started
        if hit is not None or elapsed >= timeout:
            return hit, elapsed
        time.sleep(interval)
