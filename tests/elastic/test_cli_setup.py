"""``manage.py reqlog_setup``: errors offline, output against the real node."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandError, call_command


def test_unreachable_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="unreachable"):
        call_command("reqlog_setup", url="http://127.0.0.1:9")


def test_no_configuration_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQLOG_ELASTICSEARCH_URL", raising=False)
    with pytest.raises(CommandError, match="No Elasticsearch configured"):
        call_command("reqlog_setup")


def _options(es_settings: dict[str, str]) -> dict[str, Any]:
    return {"url": es_settings["url"], "ca_certs": es_settings["ca_certs"] or None}


@pytest.mark.es
def test_setup_command_output(
    es_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REQLOG_TEST_PW", es_settings["password"])
    call_command(
        "reqlog_setup",
        username=es_settings["username"],
        password_env="REQLOG_TEST_PW",
        **_options(es_settings),
    )
    out = capsys.readouterr().out
    assert "index template logs-django.reqlog" in out
    assert "Write target: logs-django.reqlog-default" in out


@pytest.mark.es
def test_wrong_password_is_a_clear_error(
    es_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQLOG_TEST_PW", "not-the-password")
    with pytest.raises(CommandError, match=r"rejected the credentials \(401\)"):
        call_command(
            "reqlog_setup",
            username=es_settings["username"],
            password_env="REQLOG_TEST_PW",
            **_options(es_settings),
        )
