"""``manage.py reqlog_check`` through a real ElasticsearchHandler and the real node."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from django_reqlog.handlers import ElasticsearchHandler


def test_reqlog_check_finds_its_event(
    shipper: ElasticsearchHandler,
    stream: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # No REQLOG_ELASTICSEARCH_URL: the command reuses the handler's connection.
    monkeypatch.delenv("REQLOG_ELASTICSEARCH_URL", raising=False)
    call_command("reqlog_check", index=stream, timeout=30)
    out = capsys.readouterr().out
    assert "through: es-e2e" in out
    assert f"searchable in .ds-{stream}-" in out
