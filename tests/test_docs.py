"""The settings reference (docs/settings.md) documents every setting the package reads and every check ID."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from django_reqlog.setting_specs import SPECS

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "docs" / "settings.md").read_text()


def _package_sources() -> str:
    return "\n".join(p.read_text() for p in (REPO / "django_reqlog").rglob("*.py"))


SETTINGS = sorted(
    {spec.name for spec in SPECS}
    | set(re.findall(r'"(REQLOG_[A-Z_]+)"', (REPO / "django_reqlog" / "conf.py").read_text()))
)
CHECK_IDS = sorted(set(re.findall(r'"(django_reqlog\.[EW]\d{3})"', _package_sources())))


def _row(name: str) -> list[str]:
    """The cells of a setting's row in docs/settings.md."""
    line = re.search(rf"^\| `{name}` \|.*\|$", README, re.M)
    assert line, f"{name} has no row in docs/settings.md"
    return [cell.strip() for cell in line.group(0).strip("|").split(" | ")]


def test_settings_and_checks_were_found():
    assert len(SETTINGS) >= 20
    assert len(CHECK_IDS) >= 12


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_has_a_reference_row(name):
    # A row of a settings table: | `REQLOG_X` | type | default | why |
    row = re.search(rf"^\| `{name}`[^\n]*\|[^\n]*\|[^\n]*\|[^\n]*\|$", README, re.M)
    pair = re.search(rf"^\| `[A-Z_]+` / `{name}`", README, re.M)
    assert row or pair, f"{name} has no row in docs/settings.md"


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_every_check_id_is_documented(check_id):
    assert f"`{check_id}`" in README


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_each_row_states_the_type_default_and_invalid_value_of_the_spec(spec):
    # | setting | type | default | if invalid | why |, held to setting_specs.
    _, kind, default, on_invalid, why = _row(spec.name)
    assert (kind, default, on_invalid) == (
        spec.kind,
        f"`{spec.documented_default()}`",
        spec.on_invalid,
    )
    assert why.startswith(spec.doc)


def test_no_setting_is_read_outside_conf():
    # Settings are read in one place so override_settings, the checks and the
    # docs stay true: the checks report what conf validated.
    sources = _package_sources().replace((REPO / "django_reqlog" / "conf.py").read_text(), "")
    stray = re.findall(r'getattr\(settings, "(REQLOG_[A-Z_]+)"|settings\.(REQLOG_[A-Z_]+)', sources)
    assert stray == []


def test_every_documented_check_id_exists():
    documented = set(re.findall(r"^\| `(django_reqlog\.[EW]\d{3})`", README, re.M))
    assert documented and documented <= set(CHECK_IDS), documented - set(CHECK_IDS)
