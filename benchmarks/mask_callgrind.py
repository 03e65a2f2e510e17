"""Instructions per call of masking the benchmark's 1 KB JSON body, counted by
callgrind (they do not drift with the load of a shared machine).

    python benchmarks/mask_callgrind.py [IMPL ...]     # the table
    python benchmarks/mask_callgrind.py --run IMPL N   # what valgrind runs

IMPL is ``core`` (django_reqlog._native), ``reference`` (masking.py, the
pure-Python fallback) or ``old`` (``redaction.mask_json_text`` of a tree that
still has it: set REQLOG_OLD_TREE to its path). Each is run under valgrind for
two numbers of calls; the difference of the two counts divided by the
difference of the calls is the cost of one call, start-up excluded.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = (200, 1200)
SETTINGS = {
    "REQLOG_SENSITIVE_FIELDS": ["card_number", "cvv"],  # as benchmarks/settings.py
    "REQLOG_SENSITIVE_VALUE_PATTERNS": [r"\b\d{3}-\d{2}-\d{4}\b"],
}


def _masker(impl: str) -> object:
    from django.conf import settings

    settings.configure(**SETTINGS)
    if impl == "old":
        from django_reqlog import redaction  # type: ignore[attr-defined]

        return redaction.mask_json_text
    os.environ["REQLOG_NATIVE"] = "1" if impl == "core" else "0"
    from django_reqlog import masking

    assert masking.native_enabled() is (impl == "core"), impl
    return masking.mask_json_text


def run(impl: str, calls: int) -> None:
    sys.path.insert(0, str(ROOT))
    if impl == "old":  # that tree's django_reqlog, not this editable install's
        sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in type(f).__module__]
        sys.path.insert(0, os.environ["REQLOG_OLD_TREE"])
    from benchmarks.measure import BODY

    mask = _masker(impl)
    text = BODY.decode()
    masked = mask(text)  # type: ignore[operator]
    assert "4111111111111111" not in masked, masked
    assert "123-45-6789" not in masked, masked
    for _ in range(calls):
        mask(text)  # type: ignore[operator]


def count(impl: str, calls: int) -> int:
    result = subprocess.run(
        [
            *("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"),
            *(sys.executable, __file__, "--run", impl, str(calls)),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    match = re.search(r"Collected : (\d+)", result.stderr)
    assert match, result.stderr[-2000:]
    return int(match.group(1))


def main(impls: list[str]) -> None:
    print(f"| masker | instructions per call (1,024-byte body) | calls {RUNS[0]} vs {RUNS[1]} |")
    print("|---|---:|---|")
    for impl in impls:
        low, high = (count(impl, calls) for calls in RUNS)
        print(f"| {impl} | {(high - low) / (RUNS[1] - RUNS[0]):,.0f} | {low:,} / {high:,} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--run"]:
        run(sys.argv[2], int(sys.argv[3]))
    else:
        main(sys.argv[1:] or ["core", "reference"])
