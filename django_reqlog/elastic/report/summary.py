"""What the report holds, JSON-serialisable through :meth:`Summary.as_dict`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Summary:
    sources: list[str]
    total_requests: int = 0
    other_documents: int = 0
    bad_lines: int = 0
    bad_line_examples: list[str] = field(default_factory=list)
    status_classes: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    bucket_seconds: float = 60.0
    timeline: list[dict[str, Any]] = field(default_factory=list)
    routes: list[dict[str, Any]] = field(default_factory=list)
    top_users: list[tuple[str, int]] = field(default_factory=list)
    top_client_ips: list[tuple[str, int]] = field(default_factory=list)
    slow_requests: int = 0
    redacted_count: int = 0
    secrets: list[dict[str, Any]] = field(default_factory=list)
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    since: str | None = None

    @property
    def secret_hits(self) -> int:
        return sum(int(item["plaintext_hits"]) for item in self.secrets)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sources": self.sources,
            "since": self.since,
            "first_timestamp": self.first_timestamp,
            "last_timestamp": self.last_timestamp,
            "total_requests": self.total_requests,
            "other_documents": self.other_documents,
            "bad_lines": self.bad_lines,
            "bad_line_examples": self.bad_line_examples,
            "status_classes": self.status_classes,
            "statuses": self.statuses,
            "bucket_seconds": self.bucket_seconds,
            "timeline": self.timeline,
            "routes": self.routes,
            "top_users": [list(pair) for pair in self.top_users],
            "top_client_ips": [list(pair) for pair in self.top_client_ips],
            "slow_requests": self.slow_requests,
            "masking": {
                "redacted_count": self.redacted_count,
                "secrets": self.secrets,
                "plaintext_hits": self.secret_hits,
            },
        }


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty sequence."""
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]
