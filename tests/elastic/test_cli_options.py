"""Where each command value comes from: option > variable > deprecated setting >
LOGGING handler > default, and how a deprecated setting is reported."""

from __future__ import annotations

import logging
import socket
import warnings
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from django_reqlog.elastic.cli.options import VALUES, Sources, resolve_connection
from django_reqlog.elastic.errors import ElasticError
from django_reqlog.handlers import ElasticsearchHandler
from tests.helpers.log_capture import attached

SETTING_VALUES = {
    "url": "http://from-setting:9200",
    "username": "setting-user",
    "password": "setting-pw",
    "api_key": "setting-key",
    "ca_certs": "/setting/ca.pem",
    "index": "setting-index",
    "namespace": "settingns",
    "mode": "alias",
    "retention_days": 7,
    "kibana_url": "http://from-setting:5601",
}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def es_handler(tmp_path: Path) -> Iterator[ElasticsearchHandler]:
    """An ElasticsearchHandler on django_reqlog, as LOGGING would configure it."""
    handler = ElasticsearchHandler(
        "http://from-handler:9200",
        basic_auth=("handler-user", "handler-pw"),
        spool_dir=str(tmp_path),
        metrics_interval=None,
    )
    handler.set_name("es")
    try:
        with attached(handler):
            yield handler
    finally:
        handler.close()


@pytest.mark.parametrize("dest", sorted(VALUES))
def test_option_beats_variable_beats_setting_beats_default(dest: str) -> None:
    name = VALUES[dest].name
    from_variable = VALUES[dest].convert("11")
    with override_settings(**{name: SETTING_VALUES[dest]}):
        by_option = Sources({dest: "from-option"}, environ={name: "11"})
        by_variable = Sources({dest: None}, environ={name: "11"})
        by_setting = Sources({}, environ={})
        found = [sources.lookup(dest) for sources in (by_option, by_variable, by_setting)]
    assert found == [
        ("from-option", "command line"),
        (from_variable, name),
        (SETTING_VALUES[dest], f"{name} setting (deprecated)"),
    ]
    assert (by_option.deprecated, by_variable.deprecated, by_setting.deprecated) == ([], [], [name])
    assert Sources({}, environ={}).value(dest) == VALUES[dest].default


def test_defaults() -> None:
    sources = Sources({}, environ={})
    assert {dest: sources.value(dest) for dest in VALUES} == {
        "url": None,
        "username": None,
        "password": None,
        "api_key": None,
        "ca_certs": None,
        "index": "logs-django.reqlog-*,reqlog-events*",
        "namespace": "default",
        "mode": "auto",
        "retention_days": 30,
        "kibana_url": None,
    }


def test_a_deprecated_setting_is_announced_once() -> None:
    lines: list[str] = []
    with override_settings(
        REQLOG_ELASTICSEARCH_URL="http://from-setting:9200", REQLOG_KIBANA_URL="http://k:5601"
    ):
        sources = Sources({}, environ={})
        sources.value("url")
        sources.value("url")
        sources.value("kibana_url")
    with pytest.warns(DeprecationWarning, match="REQLOG_ELASTICSEARCH_URL, REQLOG_KIBANA_URL"):
        sources.announce(lines.append)
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        sources.announce(lines.append)
    assert again == []
    assert lines == [
        "warning: deprecated setting(s) used: REQLOG_ELASTICSEARCH_URL, REQLOG_KIBANA_URL. "
        "Django settings for the reqlog commands will be removed in the next release: use "
        "the command options or environment variables of the same names."
    ]


def test_a_setting_equal_to_the_default_is_not_reported() -> None:
    with override_settings(REQLOG_ELASTICSEARCH_MODE="auto"):
        sources = Sources({}, environ={})
        assert sources.value("mode") == "auto"
    assert sources.deprecated == []


def test_secrets_come_from_the_variables_the_options_name() -> None:
    environ = {"MY_PW": "pw-value", "MY_KEY": "key-value"}
    sources = Sources({"password_env": "MY_PW", "api_key_env": "MY_KEY"}, environ=environ)
    assert sources.lookup("password") == ("pw-value", "command line")
    assert sources.lookup("api_key") == ("key-value", "command line")
    with pytest.raises(ElasticError, match="--password-env UNSET_VAR: that environment"):
        Sources({"password_env": "UNSET_VAR"}, environ=environ)


@pytest.mark.parametrize("value", ["thirty", "1.5"])
def test_a_bad_retention_variable_is_a_clear_error(value: str) -> None:
    sources = Sources({}, environ={"REQLOG_ELASTICSEARCH_RETENTION_DAYS": value})
    with pytest.raises(ElasticError, match="REQLOG_ELASTICSEARCH_RETENTION_DAYS="):
        sources.value("retention_days")


def test_the_handler_gives_the_connection_only_when_nothing_names_a_url(
    es_handler: ElasticsearchHandler,
) -> None:
    from_handler = resolve_connection(Sources({}, environ={}))
    assert (from_handler.url, from_handler.username, from_handler.password) == (
        "http://from-handler:9200",
        "handler-user",
        "handler-pw",
    )
    assert from_handler.source == "LOGGING handler es"
    # A variable's credentials beat the handler's for the handler's URL...
    mixed = resolve_connection(Sources({}, environ={"REQLOG_ELASTICSEARCH_USERNAME": "ops"}))
    assert (mixed.url, mixed.username) == ("http://from-handler:9200", "ops")
    # ...and a URL given any other way never receives the handler's credentials.
    other = resolve_connection(Sources({}, environ={"REQLOG_ELASTICSEARCH_URL": "http://x:9200"}))
    assert (other.url, other.username, other.password) == ("http://x:9200", None, None)
    assert other.source == "REQLOG_ELASTICSEARCH_URL"


def test_no_connection_anywhere_is_a_clear_error() -> None:
    with pytest.raises(ElasticError, match="No Elasticsearch configured: pass --url"):
        resolve_connection(Sources({}, environ={}))


# ---------------------------------------------------------------- through the commands


def test_a_command_says_when_it_uses_a_deprecated_setting() -> None:
    port = closed_port()
    err = StringIO()
    with (
        override_settings(REQLOG_ELASTICSEARCH_URL=f"http://127.0.0.1:{port}"),
        pytest.warns(DeprecationWarning, match="REQLOG_ELASTICSEARCH_URL"),
        pytest.raises(CommandError) as caught,
    ):
        call_command("reqlog_report", "--elasticsearch", stdout=StringIO(), stderr=err)
    assert err.getvalue().startswith(
        "warning: deprecated setting(s) used: REQLOG_ELASTICSEARCH_URL."
    )
    assert str(caught.value).startswith(
        f"Elasticsearch at http://127.0.0.1:{port} (no auth, from REQLOG_ELASTICSEARCH_URL "
        "setting (deprecated)) is unreachable"
    )


@pytest.mark.filterwarnings("error::DeprecationWarning")
def test_a_variable_beats_the_setting_in_a_command(monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port()
    monkeypatch.setenv("REQLOG_ELASTICSEARCH_URL", f"http://127.0.0.1:{port}")
    err = StringIO()
    with (
        override_settings(REQLOG_ELASTICSEARCH_URL="http://never-used.invalid:9200"),
        pytest.raises(CommandError, match=rf"127\.0\.0\.1:{port} .* is unreachable"),
    ):
        call_command("reqlog_setup", stdout=StringIO(), stderr=err)
    assert err.getvalue() == ""


def test_an_option_beats_the_variable_in_a_command(monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port()
    monkeypatch.setenv("REQLOG_ELASTICSEARCH_URL", "http://never-used.invalid:9200")
    monkeypatch.setenv("MY_KEY", "a2V5")
    with pytest.raises(
        CommandError,
        match=rf"127\.0\.0\.1:{port} \(api key, from command line\) is unreachable",
    ):
        call_command(
            "reqlog_check", url=f"http://127.0.0.1:{port}", api_key_env="MY_KEY", timeout=1
        )


def test_check_without_a_handler_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing on django_reqlog, and nothing reached through propagation either.
    monkeypatch.setattr(logging.getLogger("django_reqlog"), "propagate", False)
    with pytest.raises(CommandError, match="No logging handler on the 'django_reqlog' logger"):
        call_command("reqlog_check", url="http://127.0.0.1:9")
