"""ElasticsearchHandler against the real Elasticsearch node of the test bed.

The loopback proxy in ``tests/helpers/shipping.py`` sits in front of the real node only
to make it unreachable for a while or to answer 429 for chosen items; every
document that is stored is stored by the real node.
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from django_reqlog.formatters import ECSFormatter
from django_reqlog.handlers import ElasticsearchHandler
from django_reqlog.handlers.spool import SpoolFile
from django_reqlog.handlers.status import directory_status
from tests.helpers.handlers import Shippers, record
from tests.helpers.shipping import ESProxy, TCPReceiver
from tests.helpers.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


class NumberFormatter(logging.Formatter):
    """A tiny document so a test can plant a mapping conflict on purpose."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {"@timestamp": "2026-01-01T00:00:00Z", "message": record.getMessage()}
        doc["n"] = record.__dict__.get("n")
        return json.dumps(doc)


@pytest.fixture
def index(es_client: Any) -> Iterator[str]:
    name = f"reqlog-handlers-{uuid.uuid4().hex[:10]}"
    yield name
    es_client.options(ignore_status=404).indices.delete(index=name)


def auth(es_settings: dict[str, str]) -> dict[str, Any]:
    user = es_settings["writer_username"] or es_settings["username"]
    password = es_settings["writer_password"] or es_settings["password"]
    options: dict[str, Any] = {"basic_auth": (user, password)} if user else {}
    if es_settings["ca_certs"]:
        options["ca_certs"] = es_settings["ca_certs"]
    return options


@pytest.fixture
def make_handler(
    shippers: Shippers, es_settings: dict[str, str]
) -> Callable[..., ElasticsearchHandler]:
    def make(index: str, url: str | None = None, **options: Any) -> ElasticsearchHandler:
        credentials = auth(es_settings)
        if url is not None:  # the loopback proxy speaks plain HTTP
            credentials.pop("ca_certs", None)
        kwargs = {"close_timeout": 10.0, **credentials, **options}
        return shippers.make(ElasticsearchHandler, url or es_settings["url"], index=index, **kwargs)

    return make


def stored_ids(es_client: Any, index: str) -> list[str]:
    es_client.indices.refresh(index=index)
    found = es_client.search(index=index, size=10_000, query={"match_all": {}}, source=False)
    return [hit["_id"] for hit in found["hits"]["hits"]]


@pytest.mark.es
def test_ecs_documents_are_created_with_the_event_id_as_id(
    make_handler: Any, es_client: Any, index: str
) -> None:
    handler = make_handler(index)
    assert isinstance(handler.formatter, ECSFormatter)
    records = [record(f"ecs {i}") for i in range(30)]
    for rec in records:
        handler.handle(rec)
    assert handler.wait_idle(60)
    assert handler.metrics.snapshot()["sent"] == 30
    ids = stored_ids(es_client, index)
    assert sorted(ids) == sorted(rec.event_id for rec in records)
    doc = es_client.get(index=index, id=records[0].event_id)["_source"]
    assert doc["message"] == "ecs 0"
    assert doc["event"]["id"] == records[0].event_id


@pytest.mark.es
def test_mapping_conflict_fails_only_that_event_with_its_reason(
    make_handler: Any, es_client: Any, index: str
) -> None:
    es_client.indices.create(index=index, mappings={"properties": {"n": {"type": "long"}}})
    handler = make_handler(index)
    handler.setFormatter(NumberFormatter())
    for i in range(10):
        handler.handle(record(f"n {i}", n=i if i != 4 else "not a number"))
    assert handler.wait_idle(60)
    metrics = handler.metrics.snapshot()
    assert metrics["failed"] == 1
    assert metrics["sent"] == 9
    assert metrics["retried"] == 0
    assert "400" in handler.metrics.last_failure
    assert "parsing" in handler.metrics.last_failure or "mapper" in handler.metrics.last_failure
    assert len(stored_ids(es_client, index)) == 9


@pytest.mark.es
def test_create_conflict_409_counts_as_delivered(
    make_handler: Any, es_client: Any, index: str
) -> None:
    handler = make_handler(index)
    handler.handle(record("first", event_id="same-id-1"))
    assert handler.wait_idle(60)
    handler.handle(record("replayed", event_id="same-id-1"))
    assert handler.wait_idle(60)
    metrics = handler.metrics.snapshot()
    assert metrics["sent"] == 2
    assert metrics["failed"] == metrics["retried"] == 0
    assert stored_ids(es_client, index) == ["same-id-1"]
    assert es_client.get(index=index, id="same-id-1")["_source"]["message"] == "first"


@pytest.mark.es
def test_items_answered_429_are_retried_alone(
    make_handler: Any, es_client: Any, es_settings: dict[str, str], index: str
) -> None:
    proxy = ESProxy(es_settings["url"], es_settings["ca_certs"] or None)
    try:
        records = [record(f"r {i}") for i in range(60)]
        for rec in records:
            rec.event_id = uuid.uuid4().hex
        proxy.reject_once = {rec.event_id for rec in records[::3]}
        handler = make_handler(index, url=proxy.url, batch_size=60, flush_interval=0.5)
        for rec in records:
            handler.handle(rec)
        assert handler.wait_idle(60)
        assert len(proxy.rejected) == 20
        metrics = handler.metrics.snapshot()
        assert metrics["retried"] == 20
        assert metrics["sent"] == 60
        assert metrics["failed"] == 0
        # Only the rejected items were sent again: 60 first sends + 20 retries.
        assert len(proxy.bulk_ids) == 80
        assert sorted(stored_ids(es_client, index)) == sorted(r.event_id for r in records)
    finally:
        proxy.stop()


@pytest.mark.es
def test_elasticsearch_down_then_up_everything_once(
    make_handler: Any, es_client: Any, es_settings: dict[str, str], index: str
) -> None:
    proxy = ESProxy(es_settings["url"], es_settings["ca_certs"] or None)
    try:
        proxy.down = True
        handler = make_handler(index, url=proxy.url)
        records = [record(f"d {i}") for i in range(500)]
        for rec in records:
            handler.handle(rec)
        assert wait_for(lambda: handler.metrics.spooled >= 500)
        assert handler.metrics.sent == 0
        proxy.down = False
        assert handler.wait_idle(60)
        assert handler.metrics.sent == 500
        ids = stored_ids(es_client, index)
        assert len(ids) == len(set(ids)) == 500
        assert set(ids) == {r.event_id for r in records}
    finally:
        proxy.stop()


@pytest.mark.es
def test_forced_replay_of_delivered_events_makes_no_duplicates(
    make_handler: Any, es_client: Any, index: str, tmp_path: Path
) -> None:
    """A crash between "sent" and "deleted from the spool" replays on restart."""
    handler = make_handler(index)
    records = [record(f"x {i}") for i in range(50)]
    for rec in records:
        handler.handle(rec)
    assert handler.wait_idle(60)
    handler.close()
    # Plant the same events in an orphaned spool file, as a killed process leaves it.
    orphan = SpoolFile.create(str(tmp_path / "spool"))
    formatter = ECSFormatter()
    orphan.append([(r.event_id, formatter.format(r).encode()) for r in records], 0.0)
    orphan.conn.close()
    os.close(orphan.lock_fd)  # the "dead" owner's lock goes away
    again = make_handler(index)
    assert again.wait_idle(60)  # starts its worker, which adopts and replays the orphan
    assert again.metrics.sent == 50
    ids = stored_ids(es_client, index)
    assert len(ids) == len(set(ids)) == 50


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((123,), {}, TypeError),
        (([],), {}, TypeError),
        (("http://127.0.0.1:9200",), {"index": "Upper"}, ValueError),
        (("http://127.0.0.1:9200",), {"index": ""}, ValueError),
        (("http://127.0.0.1:9200",), {"api_key": 5}, TypeError),
        (("http://127.0.0.1:9200",), {"basic_auth": "user:pw"}, TypeError),
        (("http://127.0.0.1:9200",), {"api_key": "k", "basic_auth": ("u", "p")}, ValueError),
        (("http://127.0.0.1:9200",), {"verify_certs": "no"}, TypeError),
        (("http://127.0.0.1:9200",), {"client_options": []}, TypeError),
        (("http://127.0.0.1:9200",), {"ca_certs": "/ca.pem"}, ValueError),
    ],
)
def test_constructor_rejects_bad_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        ElasticsearchHandler(*args, **kwargs)


def test_defaults_need_only_the_url() -> None:
    handler = ElasticsearchHandler("http://127.0.0.1:9200")
    try:
        assert handler.index == "logs-django.reqlog-default"
        assert isinstance(handler.formatter, ECSFormatter)
        assert "elasticsearch-logs-django.reqlog-default-" in handler.spool_dir
        assert handler.client_options == {"verify_certs": True}
    finally:
        handler.close()


@pytest.mark.es
def test_self_metric_event_is_stored_as_ecs(make_handler: Any, es_client: Any, index: str) -> None:
    handler = make_handler(index, metrics_interval=0.2)
    handler.handle(record("something"))
    assert wait_for(lambda: handler.metrics.sent >= 2)
    assert handler.wait_idle(60)
    es_client.indices.refresh(index=index)
    found = es_client.search(index=index, query={"term": {"event.kind": "metric"}}, size=1)
    doc = found["hits"]["hits"][0]["_source"]
    assert doc["event"]["action"] == "shipper-health"
    assert doc["log"]["logger"] == "django_reqlog.shipper"
    assert set(doc["reqlog"]["shipper"]) == {
        "queued", "sent", "retried", "spooled", "dropped", "failed", "spool_bytes",
    }  # fmt: skip


def test_configured_from_dictconfig(tmp_path: Path) -> None:
    logger = logging.getLogger("tests.es.dictconfig")
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {
                "es": {
                    "class": "django_reqlog.handlers.ElasticsearchHandler",
                    "hosts": ["https://127.0.0.1:9200"],
                    "index": "logs-django.reqlog-prod",
                    "basic_auth": ["writer", "secret"],
                    "client_options": {"request_timeout": 5},
                    "spool_dir": str(tmp_path),
                    "queue_size": 100,
                }
            },
            "loggers": {"tests.es.dictconfig": {"handlers": ["es"], "level": "INFO"}},
        }
    )
    handler = logger.handlers[0]
    try:
        assert isinstance(handler, ElasticsearchHandler)
        assert handler.name == "es"
        assert handler.index == "logs-django.reqlog-prod"
        assert handler.client_options["basic_auth"] == ("writer", "secret")
        assert handler.client_options["request_timeout"] == 5
        assert isinstance(handler.formatter, ECSFormatter)
        assert handler.queue_size == 100
    finally:
        logger.removeHandler(handler)
        handler.close()


def stored_messages(es_client: Any, index: str) -> list[str]:
    es_client.indices.refresh(index=index)
    found = es_client.search(index=index, size=10_000, query={"match_all": {}})
    return [hit["_source"]["message"] for hit in found["hits"]["hits"]]


def spooled_rows(spool_dir: Path) -> int:
    return sum(entry["backlog"] for entry in directory_status(str(spool_dir)))


# One record is shipped first, so the worker's client and its urllib3 pool
# exist (as in a server that has been serving); the rest are still queued
# (long flush interval, batch not full) when the interpreter exits. No close().
EXITING_CHILD = """
import atexit, json, logging, sys
from django_reqlog.handlers import ElasticsearchHandler
url, index, spool_dir, count, mode, options = sys.argv[1:7]
handler = ElasticsearchHandler(
    url, index=index, spool_dir=spool_dir, metrics_interval=None, flush_interval=60.0,
    close_timeout=3.0, **json.loads(options),
)
handler.handle(logging.LogRecord("child", 20, "", 0, "warm-up", (), None))
assert handler.wait_idle(60), handler.metrics
if mode == "logging-shutdown-only":
    # Leave only logging.shutdown to close it, after urllib3's finalizers.
    hook = getattr(handler, "_atexit_hook", None)
    if hook is not None:
        atexit.unregister(hook)
for i in range(int(count)):
    handler.handle(logging.LogRecord("child", 20, "", 0, f"exit {i}", (), None))
"""


@pytest.mark.es
@pytest.mark.parametrize("mode", ["atexit-hook", "logging-shutdown-only"])
def test_interpreter_exit_right_after_traffic_loses_nothing(
    mode: str,
    make_handler: Any,
    es_client: Any,
    es_settings: dict[str, str],
    index: str,
    tmp_path: Path,
) -> None:
    """urllib3 empties its pools at exit before logging.shutdown closes us.

    Every event must end up in Elasticsearch or in the spool (then replayed),
    once. ``logging-shutdown-only`` checks that even a close that runs after
    those finalizers does not wait for ever on an emptied pool.
    """
    count = 200
    spool_dir = tmp_path / "spool"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable, "-c", EXITING_CHILD, es_settings["url"], index, str(spool_dir),
            str(count), mode, json.dumps(auth(es_settings)),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    left = spooled_rows(spool_dir)
    stored = stored_messages(es_client, index)
    assert len(stored) + left == count + 1, (len(stored), left, done.stderr)
    # Replay whatever was left, in a new process's place.
    again = make_handler(index)
    assert again.wait_idle(60), again.metrics
    assert spooled_rows(spool_dir) == 0
    stored = stored_messages(es_client, index)
    assert sorted(stored) == sorted(["warm-up", *(f"exit {i}" for i in range(count))])


@pytest.mark.es
def test_close_spools_what_a_worker_stuck_in_a_send_holds(
    make_handler: Any, es_client: Any, index: str, tmp_path: Path
) -> None:
    """A send that never returns (stalled node) cannot be broken: close() spools it."""
    stalled = TCPReceiver(mode="stall").start()
    try:
        handler = make_handler(
            index,
            url=f"http://127.0.0.1:{stalled.port}",
            timeout=600.0,
            close_timeout=0.5,
            batch_size=10,
        )
        records = [record(f"stuck {i}") for i in range(25)]
        for rec in records:
            handler.handle(rec)
        # The first batch of 10 is on the wire and never answered.
        assert wait_for(lambda: bool(stalled.conns))
        handler.close()
        assert spooled_rows(tmp_path / "spool") == 25
    finally:
        stalled.stop()
    again = make_handler(index)
    assert again.wait_idle(60), again.metrics
    assert sorted(stored_messages(es_client, index)) == sorted(r.getMessage() for r in records)
    assert sorted(stored_ids(es_client, index)) == sorted(r.event_id for r in records)
