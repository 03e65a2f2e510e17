"""The fast paths of be2bfcf against the slow paths they stand in for.

JSON bodies without backslashes are masked in place, plain query strings are
masked without re-encoding, and ECS fields are placed by hand. Each must give what the general path gives.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from django.test import Client, override_settings
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from django_reqlog.event import _PLAIN_QUERY, _cap, _mask_plain_query, _mask_query
from django_reqlog.formatters import ECSFormatter
from django_reqlog.redaction import (
    REDACTED,
    _mask_parsed,
    _mask_plain_json,
    is_sensitive_key,
    mask_json_text,
    mask_pairs,
)
from tests.test_core_formatters import _facts, _record

FAST = hsettings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)

# -- JSON bodies ---------------------------------------------------------------

SENSITIVE_KEYS = [
    "password",
    "api_key",
    "userPin",
    ":password",
    "card_number",
    "token",
    "X-Auth",
    "pin",
]
HARMLESS_KEYS = ["a", "name", "x,", "author", "spin", ":", "}", "{a", "b c", "id", "é"]
# No "=", no bare card and no "Bearer" glued to a digit inside strings: the
# full walk runs scrub_text twice over those, which is not the same as once.
STRING_TOKENS = [
    "a,",
    ":",
    "{",
    "[",
    "}",
    "]",
    " ",
    "x",
    "password",
    "4111 1111 1111 1111",
    " Bearer abcdefghijk",
    "eyJabcdef.ghijklm.nop",
    "ünï",
]
# Negative cards and floats whose digits hold a card have cases of their own below.
NUMBERS = [0, 1, -7, 1234, 4111111111111111, 1234567890123, 0.5, -2.25, 1e-07, 3.14, 1e20]
SEPARATORS: list[dict[str, Any]] = [
    {"separators": (",", ":")},
    {"separators": (", ", ": ")},
    {"separators": (" , ", " : ")},
    {"indent": 2},
    {"indent": "\t", "separators": (",", " :  ")},
]
CARD = "4111111111111111"


def _documents(keys: list[str], numbers: list[Any]) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.lists(st.sampled_from(STRING_TOKENS), max_size=4).map("".join),
        st.sampled_from(numbers),
        st.integers(-(10**6), 10**6),
        st.sampled_from([True, False, None]),
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.sampled_from(keys), children, max_size=4),
        ),
        max_leaves=20,
    )


def _texts(documents: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    return st.tuples(documents, st.sampled_from(SEPARATORS)).map(
        lambda pair: json.dumps(pair[0], ensure_ascii=False, **pair[1])
    )


def _opens_document(node: Any) -> bool:
    """Whether any key or string value starts (after whitespace) with { or [."""
    if isinstance(node, str):
        return node.lstrip(" \t\r\n")[:1] in ("{", "[")
    if isinstance(node, dict):
        return any(_opens_document(k) or _opens_document(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_opens_document(v) for v in node)
    return False


def _sensitive_values_left(node: Any) -> list[Any]:
    """Values under sensitive keys that are not the placeholder."""
    left = []
    if isinstance(node, dict):
        for key, value in node.items():
            if is_sensitive_key(key) and value != REDACTED:
                left.append(value)
            left.extend(_sensitive_values_left(value))
    elif isinstance(node, list):
        for value in node:
            left.extend(_sensitive_values_left(value))
    return left


@FAST
@given(_texts(_documents(SENSITIVE_KEYS + HARMLESS_KEYS, NUMBERS)))
def test_plain_json_fast_path_equals_full_walk(text):
    assume("\\" not in text)
    fast = mask_json_text(text)
    if _opens_document(json.loads(text)):
        # A string holding "{..." may be a document of its own: the full walk.
        assert _mask_plain_json(text) is None
    else:
        assert _mask_plain_json(text) == fast  # the fast path is what answered
    full = _mask_parsed(json.loads(text), None, 0)
    assert full is not None
    assert json.loads(fast) == json.loads(full)
    assert _sensitive_values_left(json.loads(fast)) == []
    assert CARD not in fast
    assert "eyJabcdef" not in fast


@FAST
@given(_texts(_documents(HARMLESS_KEYS, [0, 1, -7, 1234, 0.5, -2.25, 1e20])))
def test_plain_json_with_nothing_to_mask_is_returned_as_sent(text):
    # Nothing sensitive to find: spacing, key order and number spelling all kept.
    assume("\\" not in text)
    assume(not _opens_document(json.loads(text)))
    assume(not any(shape in text for shape in ("4111 1111", "Bearer", "eyJ")))
    assert mask_json_text(text) == text


@FAST
@given(
    _texts(_documents(SENSITIVE_KEYS + HARMLESS_KEYS, [*NUMBERS, -4111111111111111])),
)
def test_plain_json_fast_path_output_is_valid_and_masked(text):
    # Negative cards included: the fast path quotes the whole number.
    assume("\\" not in text)
    masked = mask_json_text(text)
    parsed = json.loads(masked)
    assert _sensitive_values_left(parsed) == []
    assert CARD not in masked


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Leaked before be2bfcf: a string value starting with a colon threw
        # the old key finder out of step, and ":password" was missed.
        ('{"a": "x", ":password": "secret"}', '{"a": "x", ":password": "[REDACTED]"}'),
        ('{"a":"x",":password":"secret"}', '{"a":"x",":password":"[REDACTED]"}'),
        ('{"a": "x,", ":pin": 1234}', '{"a": "x,", ":pin": "[REDACTED]"}'),
        ('{"a" : ":" , "pin" : 1234}', '{"a" : ":" , "pin" : "[REDACTED]"}'),
        ('{\n  "a": ":",\n  "pin": 1234\n}', '{\n  "a": ":",\n  "pin": "[REDACTED]"\n}'),
        # A card written as a bare number becomes a quoted placeholder.
        ('{"n": 4111111111111111}', '{"n": "[REDACTED]"}'),
        (
            '{"n": -4111111111111111, "m": [4111111111111111.5e3]}',
            '{"n": "[REDACTED]", "m": ["[REDACTED]"]}',
        ),
        ('{"n":"4111 1111 1111 1111"}', '{"n":"[REDACTED]"}'),
        ('"password"', '"password"'),
        ('["password", "token"]', '["password", "token"]'),
        ('{"v": "password", "w": "pin"}', '{"v": "password", "w": "pin"}'),
        (
            '{"token": {"a": "}", "b": ["}", "x{"], "c": {"d": "]}"}}, "ok": "}"}',
            '{"token": "[REDACTED]", "ok": "}"}',
        ),
        (
            '{"auth": {"password": "p", "x": [1, {"pin": 2}]}, "pin": [3], "z": 0}',
            '{"auth": "[REDACTED]", "pin": "[REDACTED]", "z": 0}',
        ),
        (
            '{"outer": {"api_key": "k", "keep": "v"}}',
            '{"outer": {"api_key": "[REDACTED]", "keep": "v"}}',
        ),
        ('{"a": "Bearer abcdefghijk"}', '{"a": "[REDACTED]"}'),
        (
            '[{"password": null}, {"password": false}]',
            '[{"password": "[REDACTED]"}, {"password": "[REDACTED]"}]',
        ),
    ],
)
def test_plain_json_exact_output(text, expected):
    assert _mask_plain_json(text) == expected
    assert mask_json_text(text) == expected


@override_settings(REQLOG_SENSITIVE_FIELDS=["null"])
def test_plain_json_key_needle_between_two_strings_is_not_a_key():
    # The key ",null," is also the text between "x" and ":y": only the
    # occurrence that opens a string is the key.
    text = '{",null,": 1, "arr": ["x",null,":y"]}'
    expected = '{",null,": "[REDACTED]", "arr": ["x",null,":y"]}'
    assert mask_json_text(text) == expected
    assert json.loads(expected) == json.loads(_mask_parsed(json.loads(text), None, 0))


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1',  # truncated
        "{'a': 1}",  # not JSON
        '{"a": NaN}',  # Python's json reads it, JSON does not
        "",
        '{"q": "{password=hunter2}"}',  # a string holding a document of its own
        '{"q": "  [1, 2]"}',
        '{"{a": 1}',
        '{"a": "\\u0041"}',  # escapes
    ],
)
def test_plain_json_fast_path_declines(text):
    assert _mask_plain_json(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"pass\\u0077ord": "x", "a": 1}', '{"password": "[REDACTED]", "a": 1}'),
        ('{"a":"\\n","pin":1234}', '{"a": "\\n", "pin": "[REDACTED]"}'),
    ],
)
def test_escaped_json_takes_the_full_walk(text, expected):
    # _mask_plain_json reads escaped keys as written: the caller must keep
    # backslashes away from it, and mask_json_text does.
    assert mask_json_text(text) == expected


# Found by these tests and fixed: each case failed on be2bfcf.


@pytest.mark.parametrize(
    "text",
    [
        '{"q": "{password=hunter2}"}',
        '{"q": "[pin=1234, token=abcdefgh]"}',
        '{"q": "{4111 1111 1111 1111Bearer abcdefghijk"}',
    ],
)
def test_fast_path_equals_full_walk_for_strings_starting_with_a_bracket(text):
    fast = mask_json_text(text)
    assert json.loads(fast) == json.loads(_mask_parsed(json.loads(text), None, 0))


@pytest.mark.parametrize(
    "text", ['{"n": 0.4111111111111111}', "[1.4111111111111111]", '{"x": 1e-4111111111111111}']
)
def test_fast_path_output_stays_json_when_a_fraction_looks_like_a_card(text):
    json.loads(mask_json_text(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"n": -4111111111111111}', {"n": REDACTED}),
        ('{"a": "\\n", "n": -4111111111111111}', {"a": "\n", "n": REDACTED}),
    ],
)
def test_negative_card_number_keeps_the_json_valid_on_the_full_walk(text, expected):
    assert json.loads(_mask_parsed(json.loads(text), None, 0)) == expected
    if "\\" in text:
        assert json.loads(mask_json_text(text)) == expected


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
