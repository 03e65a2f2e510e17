"""One accumulator per section of the report.

Each tally sees every request event through ``add`` and writes its section
of the :class:`Summary` in ``fill``. ``summarise`` runs the ones listed in
:data:`TALLIES`; a new section is a new class here, not a longer loop.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django_reqlog.elastic.report.events import RequestEvent
from django_reqlog.elastic.report.summary import Summary, percentile
from django_reqlog.masking import REDACTED


@dataclass(frozen=True)
class ReportOptions:
    top: int = 5
    bucket_seconds: float = 60.0


class Tally(Protocol):
    def add(self, event: RequestEvent) -> None: ...

    def fill(self, summary: Summary) -> None: ...


class StatusTally:
    """Requests by status class (``2xx``...) and by code."""

    def __init__(self, options: ReportOptions) -> None:
        self.classes: Counter[str] = Counter()
        self.codes: Counter[int] = Counter()

    def add(self, event: RequestEvent) -> None:
        self.classes[f"{event.status // 100}xx"] += 1
        self.codes[event.status] += 1

    def fill(self, summary: Summary) -> None:
        summary.status_classes = {name: self.classes[name] for name in sorted(self.classes)}
        summary.statuses = {str(code): self.codes[code] for code in sorted(self.codes)}


class PeopleTally:
    """The busiest users and client IPs."""

    def __init__(self, options: ReportOptions) -> None:
        self.top = options.top
        self.users: Counter[str] = Counter()
        self.ips: Counter[str] = Counter()

    def add(self, event: RequestEvent) -> None:
        self.users[event.user or "(anonymous)"] += 1
        self.ips[event.client_ip or "(unknown)"] += 1

    def fill(self, summary: Summary) -> None:
        summary.top_users = _busiest(self.users, self.top)
        summary.top_client_ips = _busiest(self.ips, self.top)


def _busiest(counts: Counter[str], top: int) -> list[tuple[str, int]]:
    """The ``top`` largest counts, ties by name: ``most_common`` would order
    ties as the events came, so two copies of one log in another order
    (a file and what a shipper sent) would give two different reports."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]


class RouteTally:
    """Requests, 5xx and latency percentiles per route, busiest first."""

    def __init__(self, options: ReportOptions) -> None:
        self.counts: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.durations: dict[str, list[float]] = {}

    def add(self, event: RequestEvent) -> None:
        self.counts[event.route] += 1
        if event.status >= 500:
            self.errors[event.route] += 1
        if event.duration_ms is not None:
            self.durations.setdefault(event.route, []).append(event.duration_ms)

    def fill(self, summary: Summary) -> None:
        busiest = _busiest(self.counts, len(self.counts))
        summary.routes = [self._row(route, count) for route, count in busiest]

    def _row(self, route: str, count: int) -> dict[str, Any]:
        row: dict[str, Any] = {
            "route": route,
            "requests": count,
            "errors_5xx": self.errors[route],
        }
        row.update(_latency(sorted(self.durations.get(route, []))))
        return row


def _latency(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "max_ms": None}
    return {
        "p50_ms": round(percentile(values, 50), 3),
        "p95_ms": round(percentile(values, 95), 3),
        "max_ms": round(values[-1], 3),
    }


class TimelineTally:
    """Requests, 4xx and 5xx per time bucket, and the first and last event."""

    def __init__(self, options: ReportOptions) -> None:
        self.width = options.bucket_seconds
        self.buckets: dict[int, list[int]] = {}
        self.first: dt.datetime | None = None
        self.last: dt.datetime | None = None

    def add(self, event: RequestEvent) -> None:
        stamp = event.timestamp
        if stamp is None:
            return
        self.first = stamp if self.first is None else min(self.first, stamp)
        self.last = stamp if self.last is None else max(self.last, stamp)
        counts = self.buckets.setdefault(int(stamp.timestamp() // self.width), [0, 0, 0])
        counts[0] += 1
        if event.status >= 500:
            counts[1] += 1
        elif event.status >= 400:
            counts[2] += 1

    def fill(self, summary: Summary) -> None:
        summary.first_timestamp = self.first.isoformat() if self.first else None
        summary.last_timestamp = self.last.isoformat() if self.last else None
        if self.buckets:
            # Empty buckets between the first and last one stay visible as
            # zeros: a gap in traffic is information too.
            slots = range(min(self.buckets), max(self.buckets) + 1)
            summary.timeline = [self._row(slot) for slot in slots]

    def _row(self, slot: int) -> dict[str, Any]:
        total, errors_5xx, errors_4xx = self.buckets.get(slot, [0, 0, 0])
        start = dt.datetime.fromtimestamp(slot * self.width, tz=dt.timezone.utc)
        return {
            "start": start.isoformat(),
            "requests": total,
            "errors_5xx": errors_5xx,
            "errors_4xx": errors_4xx,
            "error_rate": (errors_5xx / total) if total else 0.0,
            "errors_5xx_per_minute": errors_5xx * 60.0 / self.width,
        }


class SlowTally:
    """Requests the middleware flagged ``reqlog.slow``."""

    def __init__(self, options: ReportOptions) -> None:
        self.count = 0

    def add(self, event: RequestEvent) -> None:
        self.count += event.slow

    def fill(self, summary: Summary) -> None:
        summary.slow_requests = self.count


TALLIES: tuple[Callable[[ReportOptions], Tally], ...] = (
    StatusTally,
    PeopleTally,
    RouteTally,
    TimelineTally,
    SlowTally,
)


class MaskingTally:
    """The masking proof, over the raw text of every document, request or not."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self.forms = [secret_forms(secret) for secret in secrets if secret]
        self.lengths = [len(secret) for secret in secrets if secret]
        self.hits = [0] * len(self.forms)
        self.redacted = 0

    def add_text(self, raw: str) -> None:
        self.redacted += raw.count(REDACTED)
        for index, variants in enumerate(self.forms):
            self.hits[index] += sum(raw.count(variant) for variant in variants)

    def fill(self, summary: Summary) -> None:
        summary.redacted_count = self.redacted
        summary.secrets = [
            {"secret": f"secret #{number}", "length": length, "plaintext_hits": hits}
            for number, (length, hits) in enumerate(
                zip(self.lengths, self.hits, strict=True), start=1
            )
        ]


def secret_forms(secret: str) -> set[str]:
    """The ways a secret can sit in a log line: as-is, JSON-escaped or URL-encoded."""
    forms = {secret, json.dumps(secret, ensure_ascii=False)[1:-1], json.dumps(secret)[1:-1]}
    forms.add(urllib.parse.quote(secret, safe=""))
    forms.add(urllib.parse.quote_plus(secret))
    return {form for form in forms if form}
