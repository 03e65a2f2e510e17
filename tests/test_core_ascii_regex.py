"""REQLOG_SENSITIVE_VALUE_PATTERNS run through their re.ASCII compilation on
ASCII text: the result must be what the Unicode compilation gives."""

from __future__ import annotations

import re

import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from django_reqlog.ascii_regex import AsciiAwarePattern
from django_reqlog.redaction import REDACTED, scrub_text

_SSN = r"\b\d{3}-\d{2}-\d{4}\b"


@pytest.mark.parametrize(
    ("pattern", "has_variant", "uses_space"),
    [
        (_SSN, True, False),
        (r"(?<!x)\w+@\w+(?=\.)", True, False),
        (r"(a)(?(1)b|c)|(?>ab)c++|x*?y", True, False),
        (r"a\sb", True, True),
        (r"[^\S]x", True, True),
        ("é", False, False),  # a non-ASCII literal
        (r"(?i)\u017f", False, False),  # case-folds to "s" in Unicode mode only
        (r"[\x00-\xff]", False, False),  # a range reaching past ASCII
        (r"(?u)\d", False, False),  # explicitly Unicode: cannot be compiled with ASCII
    ],
)
def test_which_patterns_get_an_ascii_compilation(pattern, has_variant, uses_space):
    aware = AsciiAwarePattern(re.compile(pattern))
    if has_variant:
        assert aware.ascii is not None and aware.ascii.flags & re.ASCII
        assert aware.ascii.pattern == pattern
    else:
        assert aware.ascii is None
    assert aware.uses_space is uses_space


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        (_SSN, "ssn 123-45-6789 on file", f"ssn {REDACTED} on file"),
        (_SSN, "x123-45-6789", "x123-45-6789"),  # no word boundary in front
        (_SSN, "é 123-45-6789", f"é {REDACTED}"),  # non-ASCII text: the Unicode path
        (_SSN, "١٢٣-٤٥-٦٧٨٩", REDACTED),  # Arabic-Indic digits are \d in Unicode mode
        (r"a\sb", "a\x1cb", REDACTED),  # a unit separator is \s in Unicode mode
        (r"a\Sb", "a\x1fb", "a\x1fb"),
        (r"(?i)\u017f", "s", REDACTED),
    ],
)
def test_sub_keeps_unicode_semantics(pattern, text, expected):
    compiled = re.compile(pattern)
    assert compiled.sub(REDACTED, text) == expected
    assert AsciiAwarePattern(compiled).sub(REDACTED, text) == expected


_PIECES = st.sampled_from(
    [
        r"\b", r"\B", r"\d", r"\D", r"\w", r"\W", r"\s", r"\S", ".", "a", "A", "k", "s",
        "-", " ", r"[a-z]", r"[^0-9]", r"[\s_]", r"(?i:k)", r"(?=\d)", r"(?<!\w)", "$", "^",
    ]
)  # fmt: skip
_QUANTIFIERS = st.sampled_from(["", "", "+", "*", "?", "{2}", "{1,3}?"])
_PATTERNS = st.lists(st.tuples(_PIECES, _QUANTIFIERS), min_size=1, max_size=6).map(
    lambda parts: "".join(
        piece + quantifier if not piece.startswith(("\\b", "\\B", "(?", "$", "^")) else piece
        for piece, quantifier in parts
    )
)
_ASCII_TEXT = st.text(
    alphabet=st.sampled_from(list("0123456789 -_aAkKsSz.\n\t\x1c\x1d\x1f\x0b@")), max_size=40
)


@given(pattern=_PATTERNS, text=_ASCII_TEXT, ignore_case=st.booleans())
def test_ascii_compilation_matches_unicode_semantics(pattern, text, ignore_case):
    compiled = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    aware = AsciiAwarePattern(compiled)
    assert aware.ascii is not None
    assert aware.sub("<>", text) == compiled.sub("<>", text)


@given(pattern=_PATTERNS, text=st.text(max_size=30))
def test_any_text_matches_unicode_semantics(pattern, text):
    compiled = re.compile(pattern)
    assert AsciiAwarePattern(compiled).sub("<>", text) == compiled.sub("<>", text)


@pytest.mark.parametrize(
    "text",
    [
        '{"note": "ssn 123-45-6789 on file", "sku": "SKU-00001"}',
        '{"note": "ssn 123-45-6789 on file", "name": "Zoë"}',
    ],
)
@override_settings(REQLOG_SENSITIVE_VALUE_PATTERNS=[_SSN])
def test_scrub_text_masks_user_patterns_in_ascii_and_unicode_text(text):
    masked = scrub_text(text, json_text=True)
    assert "123-45-6789" not in masked
    assert masked == text.replace("123-45-6789", REDACTED)
