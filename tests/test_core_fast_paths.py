"""The fast paths of be2bfcf against the slow paths they stand in for.

Plain query strings are masked without re-encoding, and ECS fields are placed
by hand. Each must give what the general path gives. (The JSON fast path is
gone: one walk masks every JSON body, and its cases moved to
tests/test_core_masking.py.)
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from django.test import Client, override_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from django_reqlog.event import _PLAIN_QUERY, _cap, _mask_plain_query, _mask_query
from django_reqlog.formatters import ECSFormatter
from django_reqlog.masking import mask_pairs
from tests.test_core_formatters import _facts, _record

CARD = "4111111111111111"
FAST = hsettings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)

# -- Query strings -------------------------------------------------------------

QUERY_TOKENS = [
    "a",
    "=",
    "&",
    "[",
    "]",
    "/",
    ":",
    ",",
    ".",
    "-",
    "_",
    "~",
    "token",
    "password",
    "4111111111111111",
    "4111-1111-1111-1111",
    "eyJabcdef.ghijklm.nop",
    "Bearer",
    "api_key",
    "pin",
    "x1",
]
plain_queries = st.lists(st.sampled_from(QUERY_TOKENS), max_size=14).map("".join)


def _general_query(query_string: str) -> str:
    """The re-encoding path every query took before be2bfcf."""
    query_string = query_string[: 8 * 1024 * 2]
    pairs = parse_qsl(query_string, keep_blank_values=True)
    return _cap(urlencode(mask_pairs(pairs), safe="[]/:,", errors="backslashreplace"))


@FAST
@given(plain_queries)
def test_plain_query_fast_path_equals_general_path(query):
    assert _PLAIN_QUERY.fullmatch(query)
    assert _mask_query(query) == _general_query(query)


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
        ("a=b=c", "a=b%3Dc"),  # "=" in a value: the fast path declines, general encodes
        ("a=[4111111111111111]", "a=[%22[REDACTED]%22]"),
    ],
)
def test_plain_query_exact_output(query, expected):
    assert _mask_query(query) == expected
    assert _general_query(query) == expected


@pytest.mark.parametrize("query", ["&", "&&&"])
def test_query_of_only_separators_is_dropped(query):
    assert _mask_plain_query(query) == ""
    assert _mask_query(query) == ""


@pytest.mark.parametrize("query", ["a=" + "b" * 9000, "k=" + "1-" * 9000, "token=" + "x" * 20000])
def test_long_plain_query_is_cut_like_the_general_path(query):
    masked = _mask_query(query)
    assert masked == _general_query(query)
    assert len(masked) <= 8 * 1024 + 1


@override_settings(REQLOG_SENSITIVE_VALUE_PATTERNS=[r"ACME-\d{4}"])
def test_plain_query_applies_extra_value_patterns_to_short_values():
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
