"""Request fields in detail: query strings masked and encoded again, ports,
ECS objects that are never empty, and fields that follow the settings when
they change (with the compiled core, through the core rebuilt for them)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from django.test import Client, override_settings

from django_reqlog.formatters import ECSFormatter
from django_reqlog.masking import REDACTED, mask_pairs
from django_reqlog.request_facts import RequestFacts
from django_reqlog.request_fields import _cap, _mask_query, request_fields
from tests.helpers.request_facts import example_facts as _facts
from tests.helpers.request_facts import example_record as _record
from tests.helpers.request_facts import facts_with

CARD = "4111111111111111"

# -- Query strings -------------------------------------------------------------


def _general_query(query_string: str) -> str:
    """The re-encoding path every query took before be2bfcf."""
    query_string = query_string[: 8 * 1024 * 2]
    pairs = parse_qsl(query_string, keep_blank_values=True)
    return _cap(urlencode(mask_pairs(pairs), safe="[]/:,", errors="backslashreplace"))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a=1&b=two", "a=1&b=two"),
        (
            "a=1&token=abc&pin=1234&q=4111-1111-1111-1111",
            "a=1&token=[REDACTED]&pin=[REDACTED]&q=[REDACTED]",
        ),
        ("user[password]=x&next=/home/", "user[password]=[REDACTED]&next=/home/"),
        ("jwt_in=xeyJabcdef.ghijklm.nop", "jwt_in=x[REDACTED]"),
        ("a=token:abcdefgh", "a=token:[REDACTED]"),
        ("flag&&x=", "flag=&x="),
        ("=", "="),
        ("a=b=c", "a=b%3Dc"),  # "=" in a value is encoded
        ("a=[4111111111111111]", "a=[%22[REDACTED]%22]"),
    ],
)
def test_query_exact_output(query, expected):
    assert _mask_query(query) == expected
    assert _general_query(query) == expected


@pytest.mark.parametrize("query", ["&", "&&&"])
def test_query_of_only_separators_is_dropped(query):
    assert _mask_query(query) == ""


@pytest.mark.parametrize("query", ["a=" + "b" * 9000, "k=" + "1-" * 9000, "token=" + "x" * 20000])
def test_long_query_is_cut_like_the_general_path(query):
    masked = _mask_query(query)
    assert masked == _general_query(query)
    assert len(masked) <= 8 * 1024 + 1


@override_settings(REQLOG_SENSITIVE_VALUE_PATTERNS=[r"ACME-\d{4}"])
def test_query_applies_extra_value_patterns_to_short_values():
    assert _general_query("ref=ACME-1234") == "ref=[REDACTED]"
    assert _mask_query("ref=ACME-1234") == "ref=[REDACTED]"


# -- ECS: no empty objects ----------------------------------------------------


def _empty_objects(node: Any, path: str = "") -> list[str]:
    found = []
    if isinstance(node, dict):
        if not node:
            found.append(path)
        for key, value in node.items():
            found.extend(_empty_objects(value, f"{path}.{key}" if path else key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_empty_objects(value, f"{path}[{index}]"))
    return found


GET_NO_BODY: dict[str, Any] = {
    "method": "GET",
    "query_string": "",
    "content_type": "",
    "content_length": None,
    "body_prefix": None,
    "body_bytes": None,
}


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"response_bytes": None, "response_content_type": ""},
        {"user_id": None, "username": None, "route": None, "view": None, "user_agent": ""},
        {"remote_addr": "", "host": "", "http_version": "", "status": 503},
        {"response_body_prefix": b"", "response_bytes": 0},
        {"headers": []},
    ],
)
def test_ecs_get_without_body_has_no_empty_objects(overrides):
    doc = ECSFormatter().format_to_dict(_record(_facts(**GET_NO_BODY, **overrides)))
    assert _empty_objects(doc) == []
    assert "body" not in doc["http"]["request"]


def test_ecs_get_without_body_exact_http_section():
    doc = ECSFormatter().format_to_dict(
        _record(_facts(**GET_NO_BODY, response_bytes=None, response_content_type=""))
    )
    assert json.dumps(doc["http"]) == json.dumps(
        {
            "version": "1.1",
            "request": {"id": "req-1", "method": "GET"},
            "response": {"status_code": 200},
        }
    )


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/hello/", "/missing/", "/no-such-url/"])
def test_ecs_client_get_has_no_empty_objects(capture, url):
    Client().get(url)
    doc = capture.only()
    assert _empty_objects(doc) == []
    assert "body" not in doc["http"]["request"]


def test_ecs_request_with_body_keeps_content_and_bytes():
    doc = ECSFormatter().format_to_dict(_record(_facts()))
    assert doc["http"]["request"]["body"] == {
        "content": '{"username": "alice", "password": "[REDACTED]"}',
        "bytes": 44,
    }
    assert _empty_objects(doc) == []


def test_ecs_request_with_empty_body_keeps_zero_bytes():
    doc = ECSFormatter().format_to_dict(
        _record(_facts(method="POST", body_prefix=b"", body_bytes=0, content_length=0))
    )
    assert doc["http"]["request"]["body"] == {"content": "", "bytes": 0}


def test_ecs_card_number_never_in_formatted_plain_json_body():
    body = b'{"n": 4111111111111111, "ok": [1, 2]}'
    line = ECSFormatter().format(_record(_facts(body_prefix=body, body_bytes=len(body))))
    assert CARD not in line
    assert json.loads(json.loads(line)["http"]["request"]["body"]["content"]) == {
        "n": "[REDACTED]",
        "ok": [1, 2],
    }
    assert re.search(r"\d{13}", line) is None


# -- fields follow the settings -------------------------------------------------


def _event(**overrides: Any) -> RequestFacts:
    values: dict[str, Any] = {
        "request_id": "r" * 32,
        "started_at": 0.0,
        "method": "GET",
        "path": "/orders/ACME-1234/",
        "query_string": "ref=ACME-1234",
        "remote_addr": "10.0.0.7",
        "forwarded_for": "203.0.113.9",
        "user_agent": "client ACME-1234",
        "headers": [("x-ticket", "ACME-1234"), ("x-order-note", "ok")],
    }
    values.update(overrides)
    return facts_with(**values)


def _fields(**overrides: Any) -> dict[str, Any]:
    """The fields as request_fields() gives them, after checking that the
    formatted line (the compiled core's, when it is on) shows the same."""
    facts = _event(**overrides)
    line = json.loads(ECSFormatter().format(_record(_event(**overrides))))
    fields = request_fields(facts)
    assert line["url"]["path"] == fields["path"]
    assert line["url"].get("query") == fields["query"]
    assert line.get("user_agent", {}).get("original") == fields["user_agent"]
    assert line["reqlog"]["request"].get("headers") == (fields["headers"] or None)
    assert line.get("client", {}).get("ip") == fields["client_ip"]
    return fields


def _shown(fields: dict[str, Any]) -> list[Any]:
    return [
        fields["path"],
        fields["query"],
        fields["user_agent"],
        fields["headers"]["x-ticket"],
    ]


_PLAIN = ["/orders/ACME-1234/", "ref=ACME-1234", "client ACME-1234", "ACME-1234"]
_MASKED = [f"/orders/{REDACTED}/", f"ref={REDACTED}", f"client {REDACTED}", REDACTED]


@pytest.mark.parametrize("first_masked", [False, True])
def test_a_new_value_pattern_applies_to_values_seen_before(first_masked):
    patterns = [r"ACME-\d{4}"]
    first = override_settings(REQLOG_SENSITIVE_VALUE_PATTERNS=patterns if first_masked else [])
    second = override_settings(REQLOG_SENSITIVE_VALUE_PATTERNS=[] if first_masked else patterns)
    with first:
        assert _shown(_fields()) == (_MASKED if first_masked else _PLAIN)
    with second:
        assert _shown(_fields()) == (_PLAIN if first_masked else _MASKED)


def test_a_new_sensitive_field_applies_to_header_values_seen_before():
    with override_settings(REQLOG_SENSITIVE_FIELDS=[]):
        assert _fields()["headers"]["x-order-note"] == "ok"
    with override_settings(REQLOG_SENSITIVE_FIELDS=["order_note"]):
        assert _fields()["headers"]["x-order-note"] == REDACTED


def test_trusting_a_proxy_applies_to_addresses_seen_before():
    with override_settings(REQLOG_TRUSTED_PROXIES=[]):
        assert _fields()["client_ip"] == "10.0.0.7"
    with override_settings(REQLOG_TRUSTED_PROXIES=["10.0.0.0/8"]):
        assert _fields()["client_ip"] == "203.0.113.9"
    with override_settings(REQLOG_TRUSTED_PROXIES=[]):
        assert _fields()["client_ip"] == "10.0.0.7"


@pytest.mark.parametrize("filler", [0, 300])  # memoised, and too long to be kept
@override_settings(REQLOG_SENSITIVE_VALUE_PATTERNS=[r"ACME-\d{4}"])
def test_short_and_long_values_are_masked_alike(filler):
    pad = "x" * filler
    fields = _fields(
        path=f"/orders/ACME-1234/{pad}",
        query_string=f"ref=ACME-1234&pad={pad}",
        user_agent=f"client ACME-1234 {pad}",
        headers=[("x-ticket", f"ACME-1234 {pad}")],
        forwarded_for=", ".join(["198.51.100.1"] * (1 + filler // 10)),
    )
    assert fields["path"] == f"/orders/{REDACTED}/{pad}"
    assert fields["query"] == f"ref={REDACTED}&pad={pad}"
    assert fields["user_agent"] == f"client {REDACTED} {pad}"
    assert fields["headers"]["x-ticket"] == f"{REDACTED} {pad}"
    assert fields["client_ip"] == "10.0.0.7"
    assert fields["proxy_chain"][-1] == "10.0.0.7"


def test_each_event_gets_its_own_proxy_chain():
    first = _fields()
    first["proxy_chain"].append("changed by a redact callback")
    assert _fields()["proxy_chain"] == ["203.0.113.9", "10.0.0.7"]


# -- ports -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "remote_port", "domain", "port", "peer_port"),
    [
        ("api.example.com:8443", "51234", "api.example.com", 8443, 51234),
        ("api.example.com:0080", "0080", "api.example.com", 80, 80),
        ("api.example.com:65536", "65536", "api.example.com", None, None),
        ("api.example.com:99999999999999999999", "", "api.example.com", None, None),
        # str.isdigit() takes these, int() refuses the first: no port at all.
        ("api.example.com:\u00b2", "\u00b2", "api.example.com:\u00b2", None, None),
        ("api.example.com:\u0663", "\u0663", "api.example.com:\u0663", None, None),
        ("[::1]", "", "[::1]", None, None),
        ("8080", "", None, 8080, None),
    ],
)
def test_ports_are_ascii_digits_up_to_65535(host, remote_port, domain, port, peer_port):
    fields = request_fields(_facts(host=host, remote_port=remote_port))
    assert (fields["domain"], fields["port"], fields["peer_port"]) == (domain, port, peer_port)
    doc = json.loads(ECSFormatter().format(_record(_facts(host=host, remote_port=remote_port))))
    assert doc["url"].get("port") == port
    assert doc["source"].get("port") == peer_port
