"""The compiled core (django_reqlog._native) against the reference
(django_reqlog/masking.py): the same masked output for generated JSON, broken
JSON, free text, form pairs, headers and whole events, with and without user
value patterns and sensitive_post_parameters; and the gate that decides which
user patterns run in Rust.

The core is asked directly, whatever REQLOG_NATIVE says, so these tests run
in both legs of ``make test``. A None from the core means it declined (text
with lone surrogates); the public functions then answer with the reference.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from django_reqlog import masking
from django_reqlog.conf import clear_caches
from django_reqlog.formatters import ECSFormatter, LogstashFormatter
from tests.helpers import masking_cases as ms
from tests.helpers.privacy import examples
from tests.helpers.request_facts import masking_record

try:
    from django_reqlog import _native
except ImportError:  # pragma: no cover - a build without the core
    _native = None  # type: ignore[assignment]

NO_NAMES: tuple[list[str], ...] = ([], [], [], [])
WANTED = os.environ.get("REQLOG_NATIVE", "").strip() != "0"
needs_core = pytest.mark.skipif(_native is None, reason="django_reqlog._native is not built")
# A \u escape of a surrogate: the core declines JSON holding a lone one.
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def agree(count: int) -> hsettings:
    return hsettings(
        max_examples=examples(count),
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.filter_too_much,
        ],
    )


def test_the_core_is_built_and_chosen_unless_switched_off():
    # `make venv` builds the core; a missing toolchain must not pass unnoticed.
    if WANTED:
        assert _native is not None, "the compiled core was not built (is cargo on PATH?)"
    assert masking.native_enabled() is (WANTED and _native is not None)


@pytest.mark.parametrize(
    ("value", "enabled"), [("0", False), (" 0 ", False), ("1", True), ("", True)]
)
def test_reqlog_native_switch(value, enabled):
    code = "from django_reqlog import masking; print(masking.native_enabled())"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "REQLOG_NATIVE": value},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == str(enabled and _native is not None)


@pytest.fixture(params=[[], ms.USER_PATTERNS], ids=["built-in", "user-patterns"])
def settings_variant(request: pytest.FixtureRequest) -> Iterator[None]:
    with override_settings(
        REQLOG_SENSITIVE_VALUE_PATTERNS=request.param,
        REQLOG_SENSITIVE_FIELDS=["iban", "employee_no"] if request.param else [],
    ):
        yield


def core() -> Any:
    return masking._native_masker(masking._config())


def same(got: str | None, expected: str, text: str) -> None:
    if got is None:  # declined: only for what a Rust string cannot hold
        assert SURROGATE_ESCAPE.search(text) or re.search("[\ud800-\udfff]", text), text
    else:
        assert got == expected, text


# -- JSON -------------------------------------------------------------------------


@needs_core
@agree(1500)
@given(text=ms.json_texts(), also=ms.also_sensitive)
@example(text='{"pass\\u0077ord": "x", "n": 4111111111111111}', also=None)
def test_json_documents_agree(settings_variant, text, also):
    json.loads(text)  # the strategy makes valid documents
    expected = masking._mask_json(text, masking._keys(also), 0)
    same(core().mask_json_text(text, also), expected, text)


@needs_core
@agree(1500)
@given(text=ms.broken_json_texts(), also=ms.also_sensitive)
@example(text='{"a": [' * 130 + '{"secret": "x"', also=None)
@example(text='{"a": "\\ud83d\\ude', also=None)
def test_broken_json_agrees(settings_variant, text, also):
    expected = masking._mask_json(text, masking._keys(also), 0)
    same(core().mask_json_text(text, also), expected, text)


@needs_core
@agree(500)
@given(text=st.text(alphabet=st.sampled_from(list('{}[]:,"\\ u0123aeftnr.-+E\t\n')), max_size=30))
def test_json_shaped_noise_agrees(text):
    # Every token boundary and escape the scanner distinguishes, in any order:
    # the two validity checks must agree for strict and lenient mode to.
    expected = masking._mask_json(text, masking._keys(None), 0)
    same(core().mask_json_text(text, None), expected, text)


# -- free text, values, pairs, keys and headers -----------------------------------


@needs_core
@agree(1500)
@given(text=ms.free_texts)
@example(text="note: x password: y")
def test_free_text_agrees(settings_variant, text):
    config = masking._config()
    masker = core()
    same(masker.scrub_text(text), masking._scrub(text, config.patterns), text)
    same(masker.scrub_free_text(text), masking._free_text(text, config), text)
    same(masker.scrub_value(text), masking._value(text, config), text)


@needs_core
@agree(800)
@given(pairs=ms.pairs, also=ms.also_sensitive)
def test_form_and_query_pairs_agree(settings_variant, pairs, also):
    keys = masking._keys(also)
    expected = [
        (k, masking.REDACTED if keys.masked(k) else masking._value(v, keys.config))
        for k, v in pairs
    ]
    got = core().mask_pairs(list(pairs), also)
    if got is not None:
        assert got == expected


@needs_core
@agree(800)
@given(key=st.one_of(st.text(max_size=12), st.sampled_from(ms.SENSITIVE_KEYS + ms.HARMLESS_KEYS)))
@example(key="\u212aey")  # KELVIN SIGN: lower-cases to "k"
@example(key="\u0130D_token")
def test_key_names_agree(settings_variant, key):
    got = core().is_sensitive_key(key)
    if got is not None:
        assert got is masking._is_sensitive(key, masking._config().parts)


@needs_core
@agree(800)
@given(header=ms.headers)
def test_header_values_agree(settings_variant, header):
    name, value = header
    masker = core()
    assert masker.is_sensitive_key(name) is masking._is_sensitive(name, masking._config().parts)
    same(masker.scrub_free_text(value), masking._free_text(value, masking._config()), value)


# -- whole events: the public path with the core, then without -------------------


def _formatted(args: tuple[Any, ...], native: bool, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr(masking, "_NATIVE_ON", native)
    clear_caches(setting="REQLOG_SENSITIVE_FIELDS")  # the event module's memos too
    record = masking_record(*args)
    return [ECSFormatter().format(record), LogstashFormatter().format(record)]


@needs_core
@agree(300)
@given(
    body=st.one_of(ms.json_texts(), ms.broken_json_texts(), ms.free_texts),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded", ""]
    ),
    query=ms.free_texts,
    headers=st.lists(ms.headers, max_size=3),
)
def test_whole_events_agree(settings_variant, monkeypatch, body, content_type, query, headers):
    args = (body.encode("utf-8", "surrogatepass"), content_type, query, headers)
    assert _formatted(args, True, monkeypatch) == _formatted(args, False, monkeypatch)


# -- the gate for user patterns -----------------------------------------------------

PIECES = st.sampled_from(
    [r"\b", r"\d", r"\D", r"\w", r"\W", r"\s", r"\S", ".", "a", "A", "k", "s", "-", " ", "@",
     r"[a-z]", r"[^0-9]", r"[\s_]", r"[^\W\d]", r"[]a]", r"[a-]", r"\.", r"\x41", "(?:ab|a)", "(a|b)"]
)  # fmt: skip
QUANTIFIERS = st.sampled_from(["", "", "+", "*", "?", "{2}", "{1,3}", "{2,}", "+?", "*?", "{1,3}?"])


SOLID_QUANTIFIERS = st.sampled_from(["", "+", "{2}", "{1,3}", "{2,}", "+?", "{1,3}?"])


@st.composite
def subset_patterns(draw: st.DrawFn) -> str:
    """Patterns in the subset that cannot match the empty string: one piece
    that must match a character comes first."""
    solid = draw(PIECES.filter(lambda p: p != r"\b")) + draw(SOLID_QUANTIFIERS)
    parts = draw(st.lists(st.tuples(PIECES, QUANTIFIERS), max_size=5))
    body = solid + "".join(p + ("" if p == r"\b" else q) for p, q in parts)
    if draw(st.booleans()):
        body = body + "|" + draw(st.sampled_from(["x", r"\d\d", "[A-Z]+", r"\bk"]))
    return ("(?i)" if draw(st.booleans()) else "") + body


ASCII_TEXT = st.text(
    alphabet=st.sampled_from(list("0123456789 -_aAkKsSz.@\n\t\x1c\x1f\x0b")), max_size=40
)
ANY_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("0a_ -")),
        st.sampled_from(["é", "٣", "\u017f", "\u212a", "\u00a0", "\u2028", "²"]),
    ),
    max_size=20,
)


@needs_core
@agree(3000)
@given(pattern=subset_patterns(), text=st.one_of(ASCII_TEXT, ANY_TEXT))
def test_patterns_in_the_subset_mean_the_same_in_rust(pattern, text):
    try:
        compiled = re.compile(pattern)
    except re.error:
        return  # Python refuses it: never a user pattern
    masker = _native.Masker(NO_NAMES, [(pattern, compiled.flags, compiled)])
    assert _native.translate_pattern(pattern, compiled.flags) is not None, pattern
    assert masker.scrub_text(text) == masking._scrub(text, (compiled,)), (pattern, text)


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"x\d$", "$ also matches before a final newline in Python"),
        (r"^ACME", "anchors: left to Python"),
        (r"(?<=id:)\d+", "lookbehind"),
        (r"(?=\d{3})\d+", "lookahead"),
        (r"(a)\1", "backreference"),
        (r"a{,3}b", "{,n}: read differently by the two parsers"),
        (r"é\d", "a non-ASCII character"),
        (r"\u00e9", "a \\u escape"),
        (r"(?s)a.b", "flags other than i"),
        (r"a*", "can match the empty string"),
        (r"(a*)+b", "a repeated part that can match the empty string"),
        (r"\Bx", "\\B: Python's and Rust's differ on empty text"),
        (r"[[a]b", "a bracket inside a class"),
        (r"[a&&b]", "Rust reads && as an intersection"),
        pytest.param(
            r"a++",
            "possessive quantifier",
            marks=pytest.mark.skipif(sys.version_info < (3, 11), reason="new in Python 3.11"),
        ),
        (r"(?i:a)b", "scoped flags"),
        (r"a{x}", "a brace that is not a quantifier"),
        (r"\x80", "a byte beyond ASCII"),
    ],
)
@needs_core
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_patterns_outside_the_subset_stay_in_python(pattern, why):
    compiled = re.compile(pattern)
    assert _native.translate_pattern(pattern, compiled.flags) is None, why
    masker = _native.Masker(NO_NAMES, [(pattern, compiled.flags, compiled)])
    assert masker.pattern_engines() == ["python"]
    for text in ["x1\n", "ACME-1", "id:42", "1234", "aa", "éé1", "ab", "a.b", "xx"]:
        assert masker.scrub_text(text) == compiled.sub(masking.REDACTED, text)


@needs_core
def test_engines_of_the_documented_patterns():
    compiled = [re.compile(p) for p in ms.USER_PATTERNS]
    masker = _native.Masker(NO_NAMES, [(p.pattern, p.flags, p) for p in compiled])
    assert masker.pattern_engines() == [
        "rust-ascii",
        "rust",
        "rust-ascii",
        "python",
        "rust-ascii",
        "python",
    ]
    assert _native.translate_pattern("ACME", re.IGNORECASE | re.UNICODE) is not None
    assert _native.translate_pattern("ACME", re.MULTILINE | re.UNICODE) is None


@needs_core
@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (ms.SSN, "١٢٣-٤٥-٦٧٨٩"),  # Arabic-Indic digits are \d in Python: masked there
        (ms.SSN, "é123-45-6789"),  # é is a word character in Python: no \b, kept
        (r"a\sb", "a\x1cb"),  # a unit separator is whitespace for Python
        (r"(?i)s", "\u017f"),  # LATIN SMALL LETTER LONG S folds to s
        (r"(?i)k", "\u212a"),
    ],
)
def test_unicode_text_gets_python_semantics(pattern, text):
    compiled = re.compile(pattern)
    masker = _native.Masker(NO_NAMES, [(pattern, compiled.flags, compiled)])
    assert masker.pattern_engines() == ["rust-ascii"]
    assert masker.scrub_text(text) == compiled.sub(masking.REDACTED, text)


@needs_core
def test_core_declines_lone_surrogates_and_the_reference_answers():
    masker = core()
    assert masker.scrub_text("token abcdefgh\ud800") is None
    assert masker.mask_json_text('{"a": "\\ud800", "password": 1}', None) is None
    assert masker.mask_json_text('{"a": "\\ud83d\\ude00", "password": 1}', None) == (
        '{"a": "\\ud83d\\ude00", "password": "[REDACTED]"}'
    )
    assert masking.mask_json_text('{"a": "\\ud800", "password": 1}') == (
        '{"a": "\\ud800", "password": "[REDACTED]"}'
    )
    assert masking.scrub_text("token abcdefgh\ud800") == "[REDACTED]\ud800"


@needs_core
def test_a_raising_python_pattern_raises_through_the_core():
    class Exploding:
        def sub(self, replacement: str, text: str) -> str:
            raise ValueError("boom")

    masker = _native.Masker(NO_NAMES, [("(?<=x)y", 32, Exploding())])
    with pytest.raises(ValueError, match="boom"):
        masker.scrub_text("xy")
