"""The privacy suites' figures (tests/helpers/privacy.py) in pytest's summary,
on one process and added up across pytest-xdist's workers."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Two figures from every test run: one counted, one that stays zero (the
# suites print their zeros too).
COUNTING_TEST = """
from tests.helpers.privacy import FIGURES

def test_counts():
    FIGURES["requests"] += 3
    FIGURES["leaks"] += 0
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A throw-away test run that loads tests.helpers.privacy as the real one does."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(test_counting=COUNTING_TEST)
    return pytester


def summary(result: pytest.RunResult) -> list[str]:
    """The lines of the figures section."""
    lines = result.stdout.lines
    starts = [i for i, line in enumerate(lines) if "django-reqlog privacy figures" in line]
    assert len(starts) == 1, result.stdout.str()
    start = starts[0]
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("="))
    return [line for line in lines[start + 1 : end] if line]


def test_figures_printed_at_the_end(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("-p", "tests.helpers.privacy", "-p", "no:xdist")
    result.assert_outcomes(passed=1)
    assert summary(result) == ["leaks: 0", "requests: 3"]


def test_figures_added_up_across_xdist_workers(suite: pytest.Pytester) -> None:
    # `--dist each` runs the test on both workers: the controller must print
    # the sum of what each counted.
    result = suite.runpytest_subprocess("-p", "tests.helpers.privacy", "-n", "2", "--dist", "each")
    result.assert_outcomes(passed=2)
    assert summary(result) == ["leaks: 0", "requests: 6"]
