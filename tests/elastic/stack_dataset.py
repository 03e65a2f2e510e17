"""A deterministic request-log dataset for the dashboard and alert tests.

Timeline (UTC, relative to BASE, a fixed date in the past so events that
other tests write "now" never fall in these windows):

- BASE .. BASE+90min: normal load, one request every 5 s across six routes,
  five users plus anonymous, six client IPs; every 40th request is a 500
  (about 1.5 per 5 minutes, 2.5 %), every 13th a 404, every 17th a 302;
- BASE+60min .. BASE+63min: a burst of 30 extra 500s on /api/boom/;
- every 60 s two shipper processes report self-metrics (event.kind metric,
  through the package's own ECSFormatter); host "web-b" drops events
  between minutes 70 and 72 and so reports at WARNING there;
- BASE+100min .. BASE+110min: sampling on (REQLOG_SAMPLE_RATE=0.25): one
  kept successful request every 5 s, each standing for 4 requests
  (reqlog.sample_weight 4.0), and a 500 every 75 s, always kept (weight 1).
  Per 5 minutes that is 64 events of which 4 are 5xx (6.25 %), but 244
  requests of which 4 failed (1.6 %): a share of documents would alert,
  a share of requests does not.

Every request event carries reqlog.sample_rate and reqlog.sample_weight,
1.0 outside the sampled period. Request events of the first 90 minutes also
carry reqlog.db (REQLOG_CAPTURE_DB on): a query count per route and a
database time that is a fixed share of the request's duration (DB_PROFILE),
worked out without drawing from the random generator, so no other figure
changes.

Tests compute every expected number from ``EVENTS`` in Python and compare
with what the real Elasticsearch returns for the panel's or rule's query.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import uuid
from typing import Any

BASE = dt.datetime(2024, 5, 1, 10, 0, 0, tzinfo=dt.timezone.utc)
NORMAL_STEP = dt.timedelta(seconds=5)
NORMAL_END = BASE + dt.timedelta(minutes=90)
BURST_START = BASE + dt.timedelta(minutes=60)
BURST_COUNT = 30
BURST_STEP = dt.timedelta(seconds=6)
DROP_MINUTES = (70, 71, 72)
SAMPLED_START = BASE + dt.timedelta(minutes=100)
SAMPLED_END = BASE + dt.timedelta(minutes=110)
SAMPLE_RATE = 0.25
SAMPLED_ERROR_STEP = dt.timedelta(seconds=75)

ROUTES = [
    ("", "/", "shop.views.home", 30, 8),
    ("api/items/", "/api/items/", "shop.views.ItemViewSet", 25, 25),
    ("api/items/<pk>/", "/api/items/7/", "shop.views.ItemViewSet", 15, 20),
    ("api/me/", "/api/me/", "shop.views.me", 10, 12),
    ("api/export.csv", "/api/export.csv", "shop.views.export_csv", 5, 180),
    ("api/slow/", "/api/slow/", "shop.views.slow", 3, 900),
]
# Queries per request and the share of its duration spent in them, by route.
DB_PROFILE = {
    "": (2, 0.25),
    "api/items/": (3, 0.6),
    "api/items/<pk>/": (2, 0.5),
    "api/me/": (1, 0.3),
    "api/export.csv": (1, 0.05),
    "api/slow/": (0, 0.0),
}
USERS = ["alice", "bob", "carol", "dave", "erin", None]
IPS = ["203.0.113.10", "203.0.113.11", "198.51.100.7", "192.0.2.44", "2001:db8::1f", "10.0.0.5"]


def iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def db_figures(pattern: str, duration: int) -> dict[str, int]:
    """reqlog.db of a request to ``pattern`` that took ``duration`` ns."""
    queries, share = DB_PROFILE[pattern]
    total = int(duration * share)
    figures = {"queries": queries, "duration": total}
    if queries:
        figures["slowest"] = total * 2 // (queries + 1)
    return figures


def request_event(
    rng: random.Random,
    when: dt.datetime,
    route: tuple[str, str, str, int, int],
    status: int,
    user: str | None,
    ip: str,
    sample_rate: float = 1.0,
) -> dict[str, Any]:
    pattern, path, view, _weight, base_ms = route
    duration_ms = base_ms * rng.uniform(0.5, 1.8)
    request_id = uuid.UUID(int=rng.getrandbits(128)).hex
    doc: dict[str, Any] = {
        "@timestamp": iso(when),
        "log.level": "error" if status >= 500 else "warning" if status >= 400 else "info",
        "message": f"GET {path} {status}",
        "ecs": {"version": "8.11.0"},
        "log": {"logger": "django_reqlog"},
        "event": {
            "id": uuid.UUID(int=rng.getrandbits(128)).hex,
            "kind": "event",
            "category": ["web"],
            "type": ["access", "error"] if status >= 500 else ["access"],
            "dataset": "django.reqlog",
            "module": "django",
            "duration": int(duration_ms * 1_000_000),
            "outcome": "failure" if status >= 500 else "success",
        },
        "http": {
            "version": "1.1",
            "request": {"method": "GET", "id": request_id},
            "response": {"status_code": status, "body": {"bytes": rng.randint(100, 5000)}},
        },
        "url": {"path": path, "original": path, "scheme": "http", "domain": "shop.example"},
        "client": {"ip": ip},
        "source": {"ip": "127.0.0.1"},
        "host": {"hostname": "web-a"},
        "reqlog": {
            "route": pattern,
            "view": view,
            "slow": duration_ms >= 500,
            "sample_rate": sample_rate,
            "sample_weight": 1.0 / sample_rate,
        },
    }
    if pattern in DB_PROFILE and when < NORMAL_END:
        doc["reqlog"]["db"] = db_figures(pattern, doc["event"]["duration"])
    if user is not None:
        doc["user"] = {"name": user, "id": str(USERS.index(user) + 1)}
    if status >= 500:
        doc["error"] = {"type": "RuntimeError", "message": "boom"}
        doc["http"]["request"]["body"] = {"content": '{"qty": 2}', "bytes": 10}
        doc["http"]["response"]["body"]["content"] = "Server Error (500)"
    return doc


def shipper_event(
    when: dt.datetime, host: str, pid: int, counters: dict[str, int], warn: bool
) -> dict[str, Any]:
    """A self-metric event exactly as the package's ECSFormatter writes it."""
    from django_reqlog.formatters import ECSFormatter

    record = logging.LogRecord(
        "django_reqlog.shipper",
        logging.WARNING if warn else logging.INFO,
        __file__,
        1,
        "shipper health %s",
        ("warning" if warn else "ok",),
        None,
    )
    record.created = when.timestamp()
    record.msecs = 0.0
    record.process = pid
    record.reqlog_shipper = dict(counters)
    record.event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{host}/{pid}/{when.isoformat()}").hex
    formatter = ECSFormatter()
    formatter.hostname = host
    doc = formatter.format_to_dict(record)
    doc["@timestamp"] = iso(when)
    return doc


def build() -> list[dict[str, Any]]:
    rng = random.Random(20240501)
    events: list[dict[str, Any]] = []
    weights = [r[3] for r in ROUTES]
    when, n = BASE, 0
    while when < NORMAL_END:
        n += 1
        status = 500 if n % 40 == 0 else 404 if n % 13 == 0 else 302 if n % 17 == 0 else 200
        route = rng.choices(ROUTES, weights=weights)[0]
        events.append(request_event(rng, when, route, status, rng.choice(USERS), rng.choice(IPS)))
        when += NORMAL_STEP
    boom = ("api/boom/", "/api/boom/", "shop.views.boom", 0, 40)
    for i in range(BURST_COUNT):
        moment = BURST_START + i * BURST_STEP + dt.timedelta(seconds=1)
        events.append(request_event(rng, moment, boom, 500, rng.choice(USERS), rng.choice(IPS)))
    events += sampled_period(rng, weights)
    for host, pid in (("web-a", 101), ("web-b", 202)):
        sent = dropped = failed = 0
        for minute in range(90):
            sent += 10 + minute % 3
            warn = host == "web-b" and minute in DROP_MINUTES
            if warn:
                dropped += 5
                failed += 1
            counters = {
                "queued": minute % 7,
                "sent": sent,
                "retried": minute // 30,
                "spooled": 0,
                "dropped": dropped,
                "failed": failed,
                "spool_bytes": 0,
            }
            moment = BASE + dt.timedelta(minutes=minute, seconds=30)
            events.append(shipper_event(moment, host, pid, counters, warn))
    return events


def sampled_period(rng: random.Random, weights: list[int]) -> list[dict[str, Any]]:
    """What REQLOG_SAMPLE_RATE=0.25 keeps of ten minutes of traffic."""
    events = []
    when = SAMPLED_START
    while when < SAMPLED_END:
        route = rng.choices(ROUTES, weights=weights)[0]
        user, ip = rng.choice(USERS), rng.choice(IPS)
        events.append(request_event(rng, when, route, 200, user, ip, SAMPLE_RATE))
        when += NORMAL_STEP
    when = SAMPLED_START + dt.timedelta(seconds=2)
    while when < SAMPLED_END:
        route = rng.choices(ROUTES, weights=weights)[0]
        events.append(request_event(rng, when, route, 500, rng.choice(USERS), rng.choice(IPS)))
        when += SAMPLED_ERROR_STEP
    return events


def weight(event: dict[str, Any]) -> float:
    """How many requests an event stands for."""
    return float(get(event, "reqlog.sample_weight") or 1.0)


def get(doc: dict[str, Any], dotted: str) -> Any:
    """Value of a dotted field in a document that mixes nested and dotted keys."""
    if dotted in doc:
        return doc[dotted]
    head, _, rest = dotted.partition(".")
    if head in doc and rest:
        value = doc[head]
        return get(value, rest) if isinstance(value, dict) else None
    for key, value in doc.items():
        if dotted.startswith(key + ".") and isinstance(value, dict):
            return get(value, dotted[len(key) + 1 :])
    return None


def parse(ts: str) -> dt.datetime:
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))


EVENTS = build()
