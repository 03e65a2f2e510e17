"""Each REQLOG_* default is written once, in django_reqlog/setting_specs.py."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from django_reqlog.setting_specs import COMMAND_SETTINGS, KNOWN_NAMES, SPECS

PACKAGE = Path(__file__).resolve().parents[1] / "django_reqlog"

# Defaults distinctive enough that a literal equal to one is a copy of it.
# (True, False, None, 1.0 and empty lists mean many other things.)
DISTINCT_DEFAULTS = [
    spec.default
    for spec in SPECS
    if (isinstance(spec.default, int) and not isinstance(spec.default, bool) and spec.default > 1)
    or (isinstance(spec.default, str) and spec.default)
]


def literals(path: Path) -> list[object]:
    tree = ast.parse(path.read_text())
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)]


def test_the_distinct_defaults_are_found():
    assert sorted(map(str, DISTINCT_DEFAULTS)) == ["1000", "8192", "X-Request-ID"]


@pytest.mark.parametrize(
    "module",
    [
        "conf.py",
        "checks.py",
        "validation.py",
        "setting_reports.py",
        "apps.py",
        "middleware.py",
        "request_facts.py",
        "request_fields.py",
    ],
)
def test_no_module_repeats_a_default(module):
    found = literals(PACKAGE / module)
    repeated = [
        value
        for value in DISTINCT_DEFAULTS
        if any(type(lit) is type(value) and lit == value for lit in found)
    ]
    assert repeated == []


def test_every_setting_conf_reads_is_a_known_name():
    # The request path's settings are read through SPECS; a name written out
    # in conf.py must be a command setting, or W006 would call it misspelt.
    named_in_conf = set(re.findall(r'"(REQLOG_[A-Z_]+)"', (PACKAGE / "conf.py").read_text()))
    assert named_in_conf <= set(COMMAND_SETTINGS)
    assert len(KNOWN_NAMES) == len(SPECS) + len(COMMAND_SETTINGS)  # no name twice
