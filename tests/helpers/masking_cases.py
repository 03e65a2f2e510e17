"""Generated input for the masking tests (tests/test_masking.py and
tests/test_native.py): JSON documents in many spellings, broken ones,
free text, form pairs and headers, each seeded with secrets of every kind
the specification in docs/masking.md names."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from tests.helpers.privacy import luhn_complete

CARD = "4111111111111111"
SSN = r"\b\d{3}-\d{2}-\d{4}\b"
# One pattern for each engine the gate can choose, and a second of one kind.
USER_PATTERNS = [
    SSN,  # rust-ascii: \b and \d mean more in Python on non-ASCII text
    r"ACME-[0-9]{4}",  # rust: the same meaning on any text
    r"(?i)secret-\w+",  # rust-ascii: case folding
    r"(?<=id:)[0-9]+",  # python: lookbehind
    r"[\w.+-]+@[\w-]+\.[a-z]+",  # rust-ascii
    r"x\d$",  # python: "$" also matches before a final newline
]

SENSITIVE_KEYS = [
    "password",
    "api_key",
    "userPin",
    "X-Auth",
    "card_number",
    "code",
    "state",
    "refresh",
    "nonce",
    "client_secret",
    "oauth",
    "ssn",
    "sessionid",
    "pass\\u0077ord",  # written with a JSON escape
    "T\\u006fken",
]
HARMLESS_KEYS = [
    "a",
    "name",
    "author",
    "spin",
    "country_code",
    "state_name",
    "keys",
    "userpin",
    "x y",
    "é",
    "ü\\u00fc",
    "",
    ":",
    "{a",
    "id:",
    "k\\\\",
    'q\\"',
    "\\u00e9",
    "\\ud83d\\ude00",
]
STRING_PIECES = [
    "a",
    " ",
    "x,",
    ":",
    "{",
    "[",
    "}",
    "]",
    "password",
    "password=hunter2",
    "token: abc",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    CARD,
    "Bearer abcdefghijk",
    "basic\\tQWxhZGRpbjpvcGVu",
    "eyJhbGciOi.eyJzdWIiOi.sig",
    "123-45-6789",
    "ACME-1234",
    "SECRET-xyz",
    "id:42",
    "mail@example.com",
    "x1",
    "ünï",
    "é123-45-6789",
    "\\n",
    "\\\\",
    '\\"',
    "\\/",
    "\\u0042earer abcdefghij",
    "\\u00e9",
    "\\ud83d\\ude00",
    "\\u2028",
    "\u3000",
    "\x7f",
]
NUMBERS = [
    "0",
    "-7",
    "1234",
    "0.5",
    "-2.25",
    "1e-07",
    "1E+400",
    "-0.0",
    CARD,
    "-" + CARD,
    CARD + ".5e3",
    "0." + CARD,
    "1e-" + CARD,
    "12345678901234567890123456789012345678901234567890",
    luhn_complete("55" + "0" * 13),
    "1234567890123",
]
SEPARATORS = [(", ", ": "), (",", ":"), (" , ", " : "), (",\n  ", ":\t")]


def _string(pieces: list[str]) -> str:
    return '"' + "".join(pieces) + '"'


@st.composite
def json_texts(draw: st.DrawFn, keys: list[str] | None = None) -> str:
    """A JSON document written out by hand, so that escapes, spacing and
    number spellings are exactly what the strategy picked."""
    keys = keys or SENSITIVE_KEYS + HARMLESS_KEYS
    item, colon = draw(st.sampled_from(SEPARATORS))
    scalars = st.one_of(
        st.lists(st.sampled_from(STRING_PIECES), max_size=4).map(_string),
        st.sampled_from(NUMBERS),
        st.sampled_from(["true", "false", "null"]),
        nested_documents(),
    )

    def containers(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        pairs = st.tuples(st.sampled_from(keys), children).map(
            lambda kv: f'"{kv[0]}"{colon}{kv[1]}'
        )
        return st.one_of(
            st.lists(children, max_size=4).map(lambda items: "[" + item.join(items) + "]"),
            st.lists(pairs, max_size=4).map(lambda items: "{" + item.join(items) + "}"),
        )

    return draw(st.recursive(scalars, containers, max_leaves=12))


@st.composite
def nested_documents(draw: st.DrawFn) -> str:
    """A JSON string holding a JSON document of its own (to depth three)."""
    inner: Any = {draw(st.sampled_from([*SENSITIVE_KEYS[:6], "a", "b"])): CARD}
    for _ in range(draw(st.integers(0, 3))):
        inner = {"doc": json.dumps(inner), "token": "t" * draw(st.integers(0, 2))}
    space = draw(st.sampled_from(["", " ", "\n"]))
    return json.dumps(space + json.dumps(inner), ensure_ascii=draw(st.booleans()))


@st.composite
def broken_json_texts(draw: st.DrawFn) -> str:
    """Valid documents cut short, glued together, nested past the depth
    limit, or damaged the way bodies arrive: invalid UTF-8 decoded with
    replacement characters, and text that is not JSON at all."""
    text = draw(json_texts())
    how = draw(st.sampled_from(["cut", "cut", "glue", "deep", "bytes", "garbage", "ndjson"]))
    if how == "cut":
        return text[: draw(st.integers(0, max(0, len(text) - 1)))]
    if how == "glue":
        return text + draw(st.sampled_from([" ", "", ","])) + draw(json_texts())
    if how == "deep":
        depth = draw(st.integers(120, 140))
        return "[" * depth + text + "]" * draw(st.sampled_from([depth, depth - 1]))
    if how == "bytes":
        raw = bytearray(text.encode())
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, len(raw)))
            raw[at:at] = draw(
                st.sampled_from([b"\xff", b"\xc3", b"\xe2\x82", b"\x00", b"\xed\xa0\x80"])
            )
        return raw.decode("utf-8", "replace")
    if how == "ndjson":
        return text + "\n" + draw(json_texts()) + "\n"
    return draw(free_texts)


FREE_PIECES = [
    " ",
    "\n",
    "\r\n",
    "\t",
    ": ",
    "=",
    " = ",
    "&",
    ";",
    ",",
    "{",
    "}",
    "[",
    "]",
    '"',
    "'",
    "password",
    "Password",
    "user_pin",
    "pass%77ord",
    "note",
    "author",
    "url",
    "https://x.example/cb?code=abc&state=xyz",
    "Authorization: Digest u=1",
    "Bearer abcdefghij",
    "token\u3000abcdefghijk",
    "eyJhbGciOi.eyJzdWIiOi.sig",
    "4111 1111 1111 1111",
    "qty 2 4111 1111 1111 1111",
    "123-45-6789",
    "ACME-1234",
    "id:77",
    "x1\n",
    "secret-Abc",
    "é",
    "\u00a0",
    "\x1c",
    "{'password': 'hunter2'}",
    '{"token": "abc", "n": 4111111111111111}',
    "hunter2",
    "\\",
    "\\u0041",
]
free_texts = st.lists(st.sampled_from(FREE_PIECES), max_size=10).map("".join)

PAIR_KEYS = [*SENSITIVE_KEYS[:13], *HARMLESS_KEYS[:9], "csrfmiddlewaretoken", "user[password]", "q"]
PAIR_VALUES = st.one_of(
    free_texts,
    json_texts(),
    st.sampled_from([' {"pin": 1}', "[4111111111111111]", '\u3000{"token": "x"}']),
)
pairs = st.lists(st.tuples(st.sampled_from(PAIR_KEYS), PAIR_VALUES), max_size=5)
also_sensitive = st.one_of(
    st.none(),
    st.just(frozenset({"__ALL__"})),
    st.sets(st.sampled_from(["a", "name", "q", "note", "é", "k\\"]), max_size=3).map(frozenset),
)
HEADER_NAMES = [
    "x-note",
    "x-api-key",
    "authorization",
    "x-auth-token",
    "user-agent",
    "referer",
    "x-trace",
]
headers = st.tuples(st.sampled_from(HEADER_NAMES), free_texts)

