"""The settings reference (docs/settings.md) documents every setting the package reads and every check ID."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "docs" / "settings.md").read_text()


def _package_sources() -> str:
    return "\n".join(p.read_text() for p in (REPO / "django_reqlog").rglob("*.py"))


SETTINGS = sorted(
    set(re.findall(r'"(REQLOG_[A-Z_]+)"', (REPO / "django_reqlog" / "conf.py").read_text()))
)
CHECK_IDS = sorted(
    set(
        re.findall(
            r'"(django_reqlog\.[EW]\d{3})"', (REPO / "django_reqlog" / "checks.py").read_text()
        )
    )
)


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


def test_no_setting_is_read_outside_conf_and_checks():
    # Settings are read in one place so override_settings and docs stay true;
    # the checks read raw values on purpose, to report what is wrong with them.
    sources = _package_sources()
    for own in ("conf.py", "checks.py"):
        sources = sources.replace((REPO / "django_reqlog" / own).read_text(), "")
    stray = set(re.findall(r'getattr\(settings, "(REQLOG_[A-Z_]+)"', sources))
    assert stray == set()


def test_every_documented_check_id_exists():
    documented = set(re.findall(r"^\| `(django_reqlog\.[EW]\d{3})`", README, re.M))
    assert documented and documented <= set(CHECK_IDS), documented - set(CHECK_IDS)
