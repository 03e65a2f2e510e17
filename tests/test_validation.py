"""Every validator in django_reqlog.validation: valid values pass unchanged,
and each invalid one gives its check ID and the safe value conf runs with."""

from __future__ import annotations

import ipaddress
import math
import re
import warnings

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from django_reqlog import setting_specs as specs
from django_reqlog.setting_specs import KNOWN_NAMES, SPECS, Spec
from django_reqlog.validation import Checked, Problem, show, unknown_names

FIXED = hypothesis_settings(derandomize=True, max_examples=200)


def redact_ok(fields: dict) -> dict:
    return fields


NOT_CALLABLE = 42


def ids_and_value(spec: Spec, raw: object) -> tuple[list[str], object]:
    checked = spec.validate(raw)
    return [p.check_id for p in checked.problems], checked.value


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_default_and_safe_value_are_valid(spec):
    assert spec.validate(spec.default) == Checked(spec.default)
    assert spec.validate(spec.safe_value) == Checked(spec.safe_value)


@pytest.mark.parametrize(
    "spec",
    [specs.ENABLED, specs.CAPTURE_REQUEST_BODY, specs.CAPTURE_RESPONSE_BODY, specs.CAPTURE_HEADERS],
    ids=lambda spec: spec.name,
)
@pytest.mark.parametrize("raw", ["no", "false", "False", "", 0, 1, 1.0, None, [False]])
def test_booleans_accept_only_bools(spec, raw):
    assert spec.validate(True) == Checked(True)
    assert spec.validate(False) == Checked(False)
    assert ids_and_value(spec, raw) == (["django_reqlog.E009"], spec.safe_value)


def test_capture_switches_fall_back_to_off_and_enabled_to_on():
    assert specs.ENABLED.validate("no").value is True
    assert specs.CAPTURE_REQUEST_BODY.validate("yes").value is False
    assert specs.CAPTURE_RESPONSE_BODY.validate("false").value is False
    assert specs.CAPTURE_HEADERS.validate("true").value is False


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0, ([], 0)),
        (4096, ([], 4096)),
        (256 * 1024, ([], 256 * 1024)),
        (256 * 1024 + 1, (["django_reqlog.W003"], 256 * 1024 + 1)),
        ("8k", (["django_reqlog.E005"], specs.MAX_BODY_BYTES.default)),
        ("8192", (["django_reqlog.E005"], specs.MAX_BODY_BYTES.default)),
        (-1, (["django_reqlog.E005"], specs.MAX_BODY_BYTES.default)),
        (True, (["django_reqlog.E005"], specs.MAX_BODY_BYTES.default)),
        (1.5, (["django_reqlog.E005"], specs.MAX_BODY_BYTES.default)),
        (None, (["django_reqlog.E005"], specs.MAX_BODY_BYTES.default)),
    ],
)
def test_max_body_bytes(raw, expected):
    assert ids_and_value(specs.MAX_BODY_BYTES, raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1, ([], 1)),
        (250, ([], 250)),
        (0, (["django_reqlog.E005"], specs.SLOW_REQUEST_MS.default)),
        ("1s", (["django_reqlog.E005"], specs.SLOW_REQUEST_MS.default)),
        (2.5, (["django_reqlog.E005"], specs.SLOW_REQUEST_MS.default)),
        (False, (["django_reqlog.E005"], specs.SLOW_REQUEST_MS.default)),
    ],
)
def test_slow_request_ms(raw, expected):
    assert ids_and_value(specs.SLOW_REQUEST_MS, raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0, ([], 0.0)),
        (1, ([], 1.0)),
        (0.25, ([], 0.25)),
        ("abc", (["django_reqlog.E004"], specs.SAMPLE_RATE.default)),
        ("0.5", (["django_reqlog.E004"], specs.SAMPLE_RATE.default)),
        (1.5, (["django_reqlog.E004"], specs.SAMPLE_RATE.default)),
        (-0.1, (["django_reqlog.E004"], specs.SAMPLE_RATE.default)),
        (math.nan, (["django_reqlog.E004"], specs.SAMPLE_RATE.default)),
        (math.inf, (["django_reqlog.E004"], specs.SAMPLE_RATE.default)),
        (True, (["django_reqlog.E004"], specs.SAMPLE_RATE.default)),
    ],
)
def test_sample_rate(raw, expected):
    ids, value = ids_and_value(specs.SAMPLE_RATE, raw)
    assert (ids, value, type(value)) == (*expected, float)


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("X-Correlation-ID", True),
        ("x-request-id", True),
        ("A" * 64, True),
        ("A" * 65, False),
        ("X Request Id", False),
        ("X_Request_Id", False),
        ("", False),
        (b"X-Request-ID", False),
        (None, False),
    ],
)
def test_request_id_header(raw, ok):
    expected = ([], raw) if ok else (["django_reqlog.E006"], specs.REQUEST_ID_HEADER.default)
    assert ids_and_value(specs.REQUEST_ID_HEADER, raw) == expected


@pytest.mark.parametrize(
    ("raw", "ok", "reason"),
    [
        (None, True, ""),
        ("tests.test_validation.redact_ok", True, ""),
        ("no.such.module", False, "cannot be imported (ModuleNotFoundError"),
        ("tests.test_validation.no_such_function", False, "cannot be imported (ImportError"),
        ("tests.helpers.broken_module.anything", False, "RuntimeError('broken on import')"),
        ("tests.test_validation.NOT_CALLABLE", False, "is not callable"),
        (redact_ok, False, "must be a dotted path string"),
    ],
)
def test_redact_callback(raw, ok, reason):
    checked = specs.REDACT_CALLBACK.validate(raw)
    if ok:
        assert checked == Checked(raw)
    else:
        assert checked.value is None
        [problem] = checked.problems
        assert problem.check_id == "django_reqlog.E008"
        assert reason in problem.message
        assert problem.message.endswith("using None instead.")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([r"^/healthz$", r"^/static/"], ([], (r"^/healthz$", r"^/static/"))),
        ((r"^/a",), ([], (r"^/a",))),
        # A lone string is not one pattern, nor one pattern per character.
        ("^/healthz", (["django_reqlog.E001"], ())),
        ({r"^/a"}, (["django_reqlog.E001"], ())),
        (None, (["django_reqlog.E001"], ())),
        ([r"^/a", "(unclosed"], (["django_reqlog.E001"], (r"^/a",))),
        ([r"^/a", 42], (["django_reqlog.E001"], (r"^/a",))),
        # Compiles alone, but not inside the alternation it is matched in.
        ([r"^/a", r"(?i)^/b"], (["django_reqlog.E001"], (r"^/a",))),
        ([r"(?P<x>a)", r"(?P<x>b)"], (["django_reqlog.E001"], (r"(?P<x>a)",))),
        (["(", "["], (["django_reqlog.E001", "django_reqlog.E001"], ())),
    ],
)
def test_skip_paths(raw, expected):
    assert ids_and_value(specs.SKIP_PATHS, raw) == expected


def test_a_flag_inside_the_alternation_is_refused_where_python_only_warns():
    """Python 3.10 only warns about a global flag that is not at the start,
    and applies it to the whole alternation: ``^/a`` would match ``/A``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        raw = [r"^/a", r"(?i)^/b"]
        assert ids_and_value(specs.SKIP_PATHS, raw) == (["django_reqlog.E001"], (r"^/a",))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([r"ACME-\d+"], ([], (r"ACME-\d+",))),
        (r"ACME-\d+", (["django_reqlog.E002"], (r"ACME-\d+",))),
        ("(unclosed", (["django_reqlog.E002", "django_reqlog.E002"], ())),
        ({r"b\d", r"a\d"}, (["django_reqlog.E002"], (r"a\d", r"b\d"))),
        ([re.compile(r"ACME-\d+")], (["django_reqlog.E002"], (r"ACME-\d+",))),
        ([1234, "x.y"], (["django_reqlog.E002"], ("1234", "x.y"))),
        ([3.5], (["django_reqlog.E002"], (r"3\.5",))),
        ([r"ok", "[z-a]"], (["django_reqlog.E002"], ("ok",))),
        # Masking compiles each pattern on its own: a leading global flag and
        # a group name used twice are fine (unlike REQLOG_SKIP_PATHS).
        ([r"ACME-\d+", r"(?i)secret-\w+"], ([], (r"ACME-\d+", r"(?i)secret-\w+"))),
        ([r"(?P<x>a)", r"(?P<x>b)"], ([], (r"(?P<x>a)", r"(?P<x>b)"))),
        (None, (["django_reqlog.E002"], ())),
        (42, (["django_reqlog.E002"], ())),
    ],
)
def test_sensitive_value_patterns(raw, expected):
    assert ids_and_value(specs.SENSITIVE_VALUE_PATTERNS, raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["ssn", "iban"], ([], ("ssn", "iban"))),
        # One key name, never split into e, m, a, i and l.
        ("email", (["django_reqlog.E007"], ("email",))),
        (frozenset({"iban", "ssn"}), (["django_reqlog.E007"], ("iban", "ssn"))),
        (["ssn", 42, None], (["django_reqlog.E007", "django_reqlog.E007"], ("ssn", "42", "None"))),
        (None, (["django_reqlog.E007"], ())),
        ({"ssn": True}, (["django_reqlog.E007"], ())),
    ],
)
def test_sensitive_fields(raw, expected):
    assert ids_and_value(specs.SENSITIVE_FIELDS, raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["10.0.0.0/8", "::1", " 192.168.1.1 "], ([], ("10.0.0.0/8", "::1", " 192.168.1.1 "))),
        (["0.0.0.0/0"], (["django_reqlog.W002"], ("0.0.0.0/0",))),
        (["::/0"], (["django_reqlog.W002"], ("::/0",))),
        # Any bad entry, or a lone string: no proxy is trusted at all.
        ("10.0.0.1", (["django_reqlog.E003"], ())),
        (["10.0.0.0/8", "garbage"], (["django_reqlog.E003"], ())),
        (["10.0.0.0/33"], (["django_reqlog.E003"], ())),
        ([ipaddress.ip_network("10.0.0.0/8")], (["django_reqlog.E003"], ())),
        ({"10.0.0.1"}, (["django_reqlog.E003"], ())),
        (None, (["django_reqlog.E003"], ())),
    ],
)
def test_trusted_proxies(raw, expected):
    assert ids_and_value(specs.TRUSTED_PROXIES, raw) == expected


@given(st.text())
@FIXED
def test_a_string_is_never_iterated_as_a_list(text):
    assert specs.SENSITIVE_FIELDS.validate(text).value == (text,)
    assert specs.SENSITIVE_VALUE_PATTERNS.validate(text).value in ((text,), ())
    assert specs.SKIP_PATHS.validate(text).value == ()
    assert specs.TRUSTED_PROXIES.validate(text).value == ()


@given(
    st.lists(st.one_of(st.text(), st.integers(), st.none(), st.floats(allow_nan=False))),
)
@FIXED
def test_an_invalid_entry_never_reduces_masking(entries):
    kept = specs.SENSITIVE_FIELDS.validate(entries).value
    assert {e for e in entries if isinstance(e, str)} <= set(kept)
    assert len(kept) == len(entries)


@given(st.lists(st.text(max_size=8), max_size=6))
@FIXED
def test_kept_patterns_always_compile_together(entries):
    for spec in (specs.SKIP_PATHS, specs.SENSITIVE_VALUE_PATTERNS):
        kept = spec.validate(entries).value
        re.compile("|".join(f"(?:{p})" for p in kept))  # never raises


def test_unknown_names_suggest_the_nearest_setting():
    present = [
        "REQLOG_SENSITIVE_FEILDS",
        "REQLOG_SAMPEL_RATE",
        "REQLOG_SOMETHING_ELSE_ENTIRELY",
        "REQLOG_ELASTICSEARCH_URL",
        "REQLOG_ENABLED",
        "DEBUG",
        "MY_REQLOG_SETTING",
    ]
    problems = unknown_names(present, KNOWN_NAMES)
    assert [(p.check_id, p.setting, p.is_error) for p in problems] == [
        ("django_reqlog.W006", "REQLOG_SAMPEL_RATE", False),
        ("django_reqlog.W006", "REQLOG_SENSITIVE_FEILDS", False),
        ("django_reqlog.W006", "REQLOG_SOMETHING_ELSE_ENTIRELY", False),
    ]
    assert problems[0].message.endswith("did you mean REQLOG_SAMPLE_RATE?")
    assert problems[1].hint == "Rename it to REQLOG_SENSITIVE_FIELDS."
    assert "did you mean" not in problems[2].message


def test_messages_say_what_is_used_instead():
    [problem] = specs.SAMPLE_RATE.validate("abc").problems
    assert problem == Problem(
        "django_reqlog.E004",
        "REQLOG_SAMPLE_RATE",
        "REQLOG_SAMPLE_RATE must be a number between 0.0 and 1.0, not 'abc'; using 1.0 instead.",
        problem.hint,
    )
    assert problem.text() == f"(django_reqlog.E004) {problem.message} HINT: {problem.hint}"


def test_show_survives_a_broken_repr_and_long_values():
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    assert show(Broken()) == "<Broken object>"
    assert show(("a",)) == "['a']"
    assert len(show("x" * 1000)) == 200
    [problem] = specs.SAMPLE_RATE.validate(Broken()).problems
    assert "not <Broken object>" in problem.message
