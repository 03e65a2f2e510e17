"""Hand-made request events in the three shapes ``reqlog_report`` reads."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

BASE = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.timezone.utc)


def stamp(seconds: float) -> str:
    moment = BASE + dt.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def ecs_event(
    *,
    at: float = 0.0,
    status: int = 200,
    route: str | None = "api/items/",
    path: str = "/api/items/",
    ms: float | None = 10.0,
    user: str | None = None,
    ip: str | None = "203.0.113.5",
    slow: bool = False,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A nested ECS document with the contract's field names."""
    doc: dict[str, Any] = {
        "@timestamp": stamp(at),
        "log.level": "error" if status >= 500 else "warning" if status >= 400 else "info",
        "message": f"GET {path} {status}",
        "ecs": {"version": "8.11.0"},
        "event": {"kind": "event", "dataset": "django.reqlog", "category": ["web"]},
        "http": {"request": {"method": "GET"}, "response": {"status_code": status}},
        "url": {"path": path},
        "reqlog": {"slow": slow},
    }
    if ms is not None:
        doc["event"]["duration"] = int(ms * 1_000_000)
    if route is not None:
        doc["reqlog"]["route"] = route
    if user is not None:
        doc["user"] = {"name": user}
    if ip is not None:
        doc["client"] = {"ip": ip}
    doc.update(extra or {})
    return doc


def ecs_flat(doc: dict[str, Any]) -> dict[str, Any]:
    """The same document with every key fully dotted (another ECS writer style)."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        else:
            flat[prefix] = value

    walk("", doc)
    return flat


def logstash_event(
    *,
    at: float = 0.0,
    status: int = 200,
    route: str | None = "api/items/",
    path: str = "/api/items/",
    ms: float | None = 10.0,
    user: str | None = None,
    ip: str | None = "203.0.113.5",
    slow: bool = False,
) -> dict[str, Any]:
    """A python-logstash v1 envelope with the contract's flat request fields."""
    doc: dict[str, Any] = {
        "@timestamp": stamp(at),
        "@version": "1",
        "message": f"GET {path} {status}",
        "host": "web-1",
        "path": "/srv/app/django_reqlog/middleware.py",
        "tags": [],
        "type": "Logstash",
        "level": "INFO",
        "logger_name": "django_reqlog",
        "status": status,
        "request_method": "GET",
        "request_path": path,
        "slow": slow,
    }
    if ms is not None:
        doc["duration_ms"] = ms
    if route is not None:
        doc["route"] = route
    if user is not None:
        doc["username"] = user
    if ip is not None:
        doc["client"] = ip
    return doc


def shipper_metric(at: float = 0.0) -> dict[str, Any]:
    return {
        "@timestamp": stamp(at),
        "log.level": "info",
        "message": "shipper health",
        "ecs": {"version": "8.11.0"},
        "event": {"kind": "metric", "action": "shipper-health", "dataset": "django.reqlog"},
        "reqlog": {"shipper": {"queued": 0, "sent": 10, "dropped": 0}},
    }


def pairs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """``(raw_text, document)`` pairs, as the sources yield them."""
    return [(json.dumps(doc), doc) for doc in docs]


def load(es_client: Any, index: str, docs: list[dict[str, Any]]) -> None:
    """Index ``docs`` into ``index`` and make them searchable."""
    operations: list[dict[str, Any]] = []
    for doc in docs:
        operations += [{"create": {"_index": index}}, doc]
    result = es_client.bulk(operations=operations, refresh=True)
    assert not result["errors"], result
