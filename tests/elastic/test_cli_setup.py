"""``manage.py reqlog_setup``: errors offline, output against the real node."""

from __future__ import annotations

import base64
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from tests.elastic.loopback_support import recorder


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


@pytest.mark.es
def test_setup_imports_the_kibana_objects(
    es_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ndjson = tmp_path / "objects.ndjson"
    ndjson.write_text('{"type":"index-pattern","id":"x","attributes":{"title":"logs-*"}}\n')
    server, seen = recorder({"success": True, "successCount": 1})
    monkeypatch.setenv("REQLOG_TEST_PW", es_settings["password"])
    monkeypatch.setenv("REQLOG_KIBANA_URL", f"http://127.0.0.1:{server.server_address[1]}")
    out = StringIO()
    try:
        options = {"username": es_settings["username"], "password_env": "REQLOG_TEST_PW"}
        call_command(
            "reqlog_setup",
            kibana_file=[str(ndjson)],
            stdout=out,
            **options,
            **_options(es_settings),
        )
        call_command(
            "reqlog_setup",
            kibana_file=[str(ndjson)],
            dry_run=True,
            stdout=out,
            **options,
            **_options(es_settings),
        )
    finally:
        server.shutdown()
    assert "  imported 1 objects from objects.ndjson" in out.getvalue()
    assert f"  would import {ndjson} into http://127.0.0.1:" in out.getvalue()
    assert len(seen) == 1  # the dry run sent nothing
    credentials = f"{es_settings['username']}:{es_settings['password']}".encode()
    assert seen[0][1]["Authorization"] == "Basic " + base64.b64encode(credentials).decode()
