"""ElastAlert2 rules (elk/elastalert/rules/) evaluated by the real ElastAlert2
against the real Elasticsearch node, over the seeded dataset.

ElastAlert2 lives in its own virtualenv (tests/testbed/elastalert_venv.py:
it needs Python >= 3.12 and pins the elasticsearch 7.10.1 client). Each case
runs ``elastalert-test-rule --start --end``, which runs the rule's real
queries against the engine through ElastAlert's own ``run_rule`` and reports
the number of matches it would have written to its status index. The Slack
example alerter is run with ``--alert``, i.e. really delivered, to a webhook
served here on 127.0.0.1.

Windows over tests/elastic/stack_dataset.py:
- quiet: the hour before any traffic;
- normal: 55 minutes of normal load (about 2.5 % 5xx, ~60 requests/5 min);
- burst: the same plus the 30 extra 5xx of minute 60-63;
- sampled: ten minutes with REQLOG_SAMPLE_RATE=0.25, where 6 % of the events
  but under 2 % of the requests are 5xx.

The 5xx share rule weights each event by reqlog.sample_weight (a rule type of
ours, elk/elastalert/elastalert_modules/); ElastAlert2 imports it from its
working directory, as in the compose stack, so the rules run from there.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.elastic.stack_dataset import BASE, EVENTS, SAMPLED_END, SAMPLED_START, get, parse
from tests.elastic.stack_support import ELK, ROOT, seed_dataset
from tests.helpers.script_modules import load_module

# PyYAML belongs in the dev extras; without it these tests cannot read the files.
yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the compose/rule files")

elastalert_venv = load_module(ROOT / "tests" / "testbed" / "elastalert_venv.py", "reqlog_ea_venv_t")
# The first use may install ElastAlert2 into its virtualenv (a few minutes on
# 2 cores) inside the fixture, which counts against the first test's timeout.
pytestmark = pytest.mark.timeout(1800)
RULES_DIR = ELK / "elastalert" / "rules"
RULE_FILES = {path.stem: path for path in sorted(RULES_DIR.glob("*.yaml"))}
WINDOWS = {
    "quiet": (BASE - dt.timedelta(hours=1), BASE - dt.timedelta(minutes=1)),
    "normal": (BASE, BASE + dt.timedelta(minutes=55)),
    "burst": (BASE, BASE + dt.timedelta(minutes=70)),
    "sampled": (SAMPLED_START, SAMPLED_END),
}
ALERTING_RULES = ["reqlog-5xx-burst", "reqlog-error-spike", "reqlog-5xx-share"]


def load_rule(name: str) -> dict[str, Any]:
    text = os.path.expandvars(RULE_FILES[name].read_text())
    return yaml.safe_load(text)  # type: ignore[no-any-return]


# ------------------------------------------------------------ offline


def test_rule_set() -> None:
    assert set(RULE_FILES) == {*ALERTING_RULES, "reqlog-5xx-burst-slack"}
    types = {name: load_rule(name)["type"] for name in ALERTING_RULES}
    assert types == {
        "reqlog-5xx-burst": "frequency",
        "reqlog-error-spike": "spike",
        "reqlog-5xx-share": "elastalert_modules.reqlog_rules.WeightedPercentageMatchRule",
    }


@pytest.mark.parametrize("name", sorted(RULE_FILES))
def test_rules_read_our_data_stream_with_template_fields(name: str) -> None:
    from tests.elastic.stack_support import dsl_fields, flatten_fields, template_mappings

    rule = load_rule(name)
    assert rule["index"] == "logs-django.reqlog-*"
    assert rule["timestamp_field"] == "@timestamp"
    fields = flatten_fields(template_mappings()["properties"])
    used = dsl_fields(rule.get("filter", [])) | dsl_fields(rule.get("match_bucket_filter", []))
    used |= set(rule.get("include", [])) - {"@timestamp"}
    assert used, name
    assert used <= set(fields), used - set(fields)


def test_slack_example_is_off_unless_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQLOG_SLACK_ALERTS", "false")
    assert load_rule("reqlog-5xx-burst-slack")["is_enabled"] is False
    monkeypatch.setenv("REQLOG_SLACK_ALERTS", "true")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.invalid/services/T/B/X")
    assert load_rule("reqlog-5xx-burst-slack")["is_enabled"] is True
    # Same detection as the debug-only burst rule, only the alerter differs.
    plain, slack = load_rule("reqlog-5xx-burst"), load_rule("reqlog-5xx-burst-slack")
    for key in ("type", "num_events", "timeframe", "filter", "alert_text"):
        assert plain[key] == slack[key], key
    assert slack["alert"] == ["slack"]
    assert slack["slack_webhook_url"] == "https://hooks.slack.invalid/services/T/B/X"


def test_elastalert_config_keeps_secrets_out() -> None:
    config = yaml.safe_load((ELK / "elastalert" / "config.yaml").read_text())
    assert "es_password" not in config and "es_username" not in config
    assert config["rules_folder"] == "/opt/elastalert/rules"


# ------------------------------------------------------------ real engine


@pytest.fixture(scope="module")
def elastalert_bin() -> Path:
    """The venv's bin/ directory; installs it (from PyPI) on first use."""
    if not elastalert_venv.STAMP.exists():
        if elastalert_venv.find_python() is None:
            pytest.skip("ElastAlert2 needs Python >= 3.12 (set REQLOG_ELASTALERT_PYTHON)")
        subprocess.run([sys.executable, elastalert_venv.__file__], check=True, timeout=1200)
    return elastalert_venv.bin_dir()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def stream(es_client: Any) -> str:
    return seed_dataset(es_client)


@pytest.fixture(scope="module")
def config_file(es_settings: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """elk/elastalert/config.yaml pointed at the test node instead of the compose one."""
    config = yaml.safe_load((ELK / "elastalert" / "config.yaml").read_text())
    url = urlparse(es_settings["url"])
    config.update(
        es_host=url.hostname,
        es_port=url.port,
        use_ssl=url.scheme == "https",
        verify_certs=url.scheme == "https",
        es_username=es_settings["username"],
        es_password=es_settings["password"],
        rules_folder=str(RULES_DIR),
    )
    if es_settings["ca_certs"]:
        config["ca_certs"] = es_settings["ca_certs"]
    path = tmp_path_factory.mktemp("elastalert") / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_rule(
    bin_dir: Path,
    config: Path,
    es_settings: dict[str, str],
    rule: str | Path,
    window: tuple[dt.datetime, dt.datetime],
    alert: bool = False,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    start, end = (w.strftime("%Y-%m-%dT%H:%M:%S") for w in window)
    command = [
        str(bin_dir / "elastalert-test-rule"),
        "--config",
        str(config),
        "--formatted-output",
        "--start",
        start,
        "--end",
        end,
        str(rule if isinstance(rule, Path) else RULE_FILES[rule]),
    ]
    if alert:
        command.insert(1, "--alert")
    # requests (ElastAlert's HTTP layer) lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE
    # override the ca_certs of the config; keep the config in charge.
    inherited = {
        k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
    }
    env = {
        **inherited,
        # The minimal test distribution has no `GET /`, which ElastAlert2
        # uses to learn the server version: tell it instead.
        "ES_VERSION": es_settings["version"],
        "REQLOG_SLACK_ALERTS": "false",
        "SLACK_WEBHOOK_URL": "",
        "TZ": "UTC",
        **(extra_env or {}),
    }
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
        cwd=ELK / "elastalert",  # where elastalert_modules is, as in the container
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, result.stdout[-3000:] + result.stderr[-3000:]
    output: dict[str, Any] = json.loads(lines[-1])
    output["_stderr"] = result.stderr
    return output


def matches(output: dict[str, Any]) -> int:
    status = output.get("writeback", {}).get("elastalert_status")
    assert status is not None, json.dumps(output)[:2000]
    assert "elastalert_error" not in output.get("writeback", {}), output["writeback"]
    return int(status["matches"])


def hits_in(window: tuple[dt.datetime, dt.datetime]) -> int:
    """Events ElastAlert's frequency rule sees in a window (5xx requests)."""
    return sum(
        1
        for e in EVENTS
        if get(e, "event.kind") == "event"
        and get(e, "http.response.status_code") >= 500
        and window[0] <= parse(get(e, "@timestamp")) < window[1]
    )


@pytest.mark.es
@pytest.mark.parametrize("window", ["quiet", "normal", "burst", "sampled"])
@pytest.mark.parametrize("rule", ALERTING_RULES)
def test_rule_fires_on_the_burst_only(
    elastalert_bin: Path,
    config_file: Path,
    es_settings: dict[str, str],
    stream: str,
    rule: str,
    window: str,
) -> None:
    output = run_rule(elastalert_bin, config_file, es_settings, rule, WINDOWS[window])
    found = matches(output)
    if window == "burst":
        assert found >= 1, output
    else:
        assert found == 0, output
    if rule == "reqlog-5xx-burst":
        # The frequency rule reads the documents themselves: it saw exactly
        # the 5xx of the window.
        # (elastalert-test-rule omits "hits" when the window holds none.)
        assert output.get("hits", 0) == hits_in(WINDOWS[window])


@pytest.mark.es
def test_share_rule_weights_sampled_events(
    elastalert_bin: Path,
    config_file: Path,
    es_settings: dict[str, str],
    stream: str,
    tmp_path: Path,
) -> None:
    """In the sampled window the stock percentage_match, counting documents,
    alerts; the same rule weighting each event by reqlog.sample_weight does
    not, because under 2 % of the requests failed."""
    text = RULE_FILES["reqlog-5xx-share"].read_text()
    assert "type: elastalert_modules.reqlog_rules.WeightedPercentageMatchRule" in text
    unweighted = tmp_path / "reqlog-5xx-share-unweighted.yaml"
    unweighted.write_text(
        text.replace(
            "type: elastalert_modules.reqlog_rules.WeightedPercentageMatchRule",
            "type: percentage_match",
        ).replace("name: reqlog 5xx share", "name: reqlog 5xx share unweighted")
    )
    window = WINDOWS["sampled"]
    assert matches(run_rule(elastalert_bin, config_file, es_settings, unweighted, window)) >= 1
    weighted = run_rule(elastalert_bin, config_file, es_settings, "reqlog-5xx-share", window)
    assert matches(weighted) == 0


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Hook", (_Webhook,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/services/T000/B000/XXXX", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.es
def test_slack_example_alerter_delivers_the_burst(
    elastalert_bin: Path,
    config_file: Path,
    es_settings: dict[str, str],
    stream: str,
    webhook: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = webhook
    env = {"REQLOG_SLACK_ALERTS": "true", "SLACK_WEBHOOK_URL": url}
    quiet = run_rule(
        elastalert_bin,
        config_file,
        es_settings,
        "reqlog-5xx-burst-slack",
        WINDOWS["normal"],
        alert=True,
        extra_env=env,
    )
    assert matches(quiet) == 0 and received == []
    burst = run_rule(
        elastalert_bin,
        config_file,
        es_settings,
        "reqlog-5xx-burst-slack",
        WINDOWS["burst"],
        alert=True,
        extra_env=env,
    )
    assert matches(burst) >= 1
    assert len(received) == matches(burst)
    message = received[0]
    assert message["username"] == "django-reqlog"
    attachment = message["attachments"][0]
    assert attachment["color"] == "danger"
    assert "server errors in 5 minutes" in attachment["title"]
    assert "/api/boom/ -> 500" in attachment["text"]
