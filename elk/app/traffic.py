"""Optional demo load for the compose stack (``--profile traffic``).

Sends a bounded mix of requests to the example project so the dashboards
have something to show: mostly successful reads, some 404s, some slow
requests and a small share of 5xx (``/api/boom/``). It stops by itself after
``TRAFFIC_SECONDS`` and writes a heartbeat file for its health check.

Environment: TRAFFIC_TARGET (http://app:8000), TRAFFIC_RATE (requests per
second, default 5), TRAFFIC_SECONDS (default 3600), TRAFFIC_ERROR_RATIO
(share of requests sent to the failing view, default 0.02),
TRAFFIC_STATE_DIR (heartbeat directory).
"""

from __future__ import annotations

import os
import random
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

# (path, weight): the example project's read-only and cheap endpoints.
NORMAL_PATHS = [
    ("/", 20),
    ("/health/", 5),
    ("/api/items/", 40),
    ("/api/async/", 10),
    ("/api/export.csv", 5),
    ("/api/does-not-exist/", 5),
    ("/api/slow/", 3),
]
ERROR_PATH = "/api/boom/"
HEARTBEAT_MAX_AGE = 90.0


def state_dir() -> Path:
    return Path(os.environ.get("TRAFFIC_STATE_DIR", "/var/lib/reqlog-traffic"))


def healthcheck() -> int:
    beat = state_dir() / "heartbeat"
    try:
        age = time.time() - beat.stat().st_mtime
    except FileNotFoundError:
        return 1
    return 0 if age < HEARTBEAT_MAX_AGE else 1


def pick_path(rng: random.Random, error_ratio: float) -> str:
    if rng.random() < error_ratio:
        return ERROR_PATH
    paths, weights = zip(*NORMAL_PATHS, strict=True)
    return rng.choices(paths, weights=weights)[0]


def send(target: str, path: str) -> int:
    try:
        with urllib.request.urlopen(target + path, timeout=10) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def main() -> int:
    if "--healthcheck" in sys.argv:
        return healthcheck()
    target = os.environ.get("TRAFFIC_TARGET", "http://app:8000").rstrip("/")
    rate = max(0.1, float(os.environ.get("TRAFFIC_RATE", "5")))
    seconds = float(os.environ.get("TRAFFIC_SECONDS", "3600"))
    error_ratio = min(1.0, max(0.0, float(os.environ.get("TRAFFIC_ERROR_RATIO", "0.02"))))
    state_dir().mkdir(parents=True, exist_ok=True)
    rng = random.Random()
    deadline = time.monotonic() + seconds
    counts: dict[int, int] = {}
    last_beat = 0.0
    while time.monotonic() < deadline:
        status = send(target, pick_path(rng, error_ratio))
        counts[status] = counts.get(status, 0) + 1
        now = time.monotonic()
        if now - last_beat > 10:
            (state_dir() / "heartbeat").write_text(repr(sorted(counts.items())) + "\n")
            print("traffic:", dict(sorted(counts.items())), flush=True)
            last_beat = now
        time.sleep(rng.expovariate(rate))
    print("traffic: done", dict(sorted(counts.items())), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
