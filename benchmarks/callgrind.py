"""Instructions per call, counted by callgrind (they do not drift with the
load of a shared machine), for the benchmark's 1 KB JSON POST:

    python benchmarks/callgrind.py [TARGET ...]     # the table (make bench prints it)
    python benchmarks/callgrind.py --run TARGET N   # what valgrind runs

Targets: ``mask-core`` / ``mask-reference`` (``mask_json_text`` on the body),
``ecs-core`` / ``ecs-python`` / ``logstash-core`` / ``logstash-python`` (one
real request record, made by the middleware, formatted and encoded as a
worker does it), ``request-floor`` / ``request-queue`` / ``request-file-core`` /
``request-file-python`` (a whole request through Django's WSGI handler:
without django-reqlog; with the queue-only handler, the request thread's
share of a shipper; and with the README's first setup, FileHandler and
ECSFormatter). ``core`` is the compiled core; ``python`` / ``reference`` is
what an install without it runs (``REQLOG_NATIVE=0``).

Each target runs under valgrind twice, with N1 and N2 calls; only the calls
are instrumented (``callgrind_control`` switches it on and off around them),
and the difference of the two counts divided by N2 - N1 is one call.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS: dict[str, tuple[int, int]] = {  # target -> (N1, N2)
    "mask-core": (200, 1200),
    "mask-reference": (50, 300),
    "ecs-core": (200, 1200),
    "ecs-python": (50, 300),
    "logstash-core": (200, 1200),
    "logstash-python": (50, 300),
    "request-floor": (50, 300),
    "request-queue": (50, 300),
    "request-file-core": (50, 300),
    "request-file-python": (50, 300),
}
MASK_SETTINGS = {  # as benchmarks/settings.py
    "REQLOG_SENSITIVE_FIELDS": ["card_number", "cvv"],
    "REQLOG_SENSITIVE_VALUE_PATTERNS": [r"\b\d{3}-\d{2}-\d{4}\b"],
}


def _masker() -> Callable[[], object]:
    from django.conf import settings

    settings.configure(**MASK_SETTINGS)
    from benchmarks.measure import BODY
    from django_reqlog import masking

    text = BODY.decode()
    masked = masking.mask_json_text(text)
    assert "4111111111111111" not in masked, masked
    assert "123-45-6789" not in masked, masked
    return lambda: masking.mask_json_text(text)


def _formatter(name: str, count: int) -> Callable[[], object]:
    from benchmarks import measure

    measure._setup("reqlog-queue", tempfile.mkdtemp(prefix="reqlog-callgrind-"))
    from django_reqlog.formatters import ECSFormatter, LogstashFormatter

    formatter = ECSFormatter() if name == "ecs" else LogstashFormatter()
    records = iter(measure._records(count + 10))
    for _ in range(10):
        formatter.format(next(records)).encode("utf-8")
    return lambda: formatter.format(next(records)).encode("utf-8")


def _request(variant: str) -> Callable[[], object]:
    from benchmarks import measure

    measure._setup(variant, tempfile.mkdtemp(prefix="reqlog-callgrind-"))
    one = measure.wsgi_driver()
    for _ in range(50):
        one()
    return one


def _workload(target: str, count: int) -> Callable[[], object]:
    what, _, impl = target.partition("-")
    os.environ["REQLOG_NATIVE"] = "0" if impl in ("python", "reference", "file-python") else "1"
    if what == "mask":
        return _masker()
    if what in ("ecs", "logstash"):
        return _formatter(what, count)
    return _request({"floor": "floor", "queue": "reqlog-queue"}.get(impl, "reqlog-file"))


def _instrument(flag: str) -> None:
    command = ["callgrind_control", "-i", flag, str(os.getpid())]
    subprocess.run(command, check=True, capture_output=True)


def run(target: str, count: int) -> None:
    sys.path.insert(0, str(ROOT))
    call = _workload(target, count)
    _instrument("on")
    for _ in range(count):
        call()
    _instrument("off")


def count(target: str, calls: int) -> int:
    result = subprocess.run(
        [
            *("valgrind", "--tool=callgrind", "--instr-atstart=no"),
            "--callgrind-out-file=/dev/null",
            *(sys.executable, __file__, "--run", target, str(calls)),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)},
    )
    match = re.search(r"Collected : (\d+)", result.stderr)
    assert match, result.stderr[-2000:]
    return int(match.group(1))


def per_call(target: str) -> int:
    low, high = TARGETS[target]
    return round((count(target, high) - count(target, low)) / (high - low))


def main(targets: list[str]) -> None:
    print("| target | instructions per call |")
    print("|---|---:|")
    for target in targets:
        print(f"| {target} | {per_call(target):,} |", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--run"]:
        run(sys.argv[2], int(sys.argv[3]))
    else:
        main(sys.argv[1:] or list(TARGETS))
