"""Validators for ``REQLOG_*`` values, shared by the system checks and runtime.

Each validator takes a setting's spec and the raw value and returns the value
to run with plus the problems found. A value it cannot use is replaced by the
spec's safe fallback (or, for list settings, by what can be kept of it), and
the problem's message says what is used instead: ``manage.py check``, stderr
and the ``django_reqlog`` logger all print the same sentence.

A string is never iterated as if it were a list.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from django_reqlog.setting_specs import Spec

T = TypeVar("T")

# Bodies above this cannot fit in an event: the formatter caps events at
# 300 KiB (formatters.MAX_EVENT_BYTES), and the rest of the event needs room.
_BODY_FITS = 256 * 1024
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
_LISTS = (list, tuple)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the settings, in the words every report uses."""

    check_id: str
    setting: str
    message: str
    hint: str
    is_error: bool = True

    def text(self) -> str:
        """The whole report on one line (stderr and the log record)."""
        return f"({self.check_id}) {self.message} HINT: {self.hint}"


@dataclass(frozen=True)
class Checked(Generic[T]):
    """A validated value and what was wrong with the raw one."""

    value: T
    problems: tuple[Problem, ...] = ()


def show(value: object) -> str:
    """``repr`` for messages: tuples read as lists, and a broken ``__repr__``
    of a user's object cannot break validation."""
    if isinstance(value, tuple):
        value = list(value)
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= 200 else text[:197] + "..."


def _replaced(spec: Spec[T], check_id: str, what: str, hint: str, value: T) -> Checked[T]:
    """The raw value is unusable as a whole: run with ``value`` and say so."""
    message = f"{spec.name} {what}; using {show(value)} instead."
    return Checked(value, (Problem(check_id, spec.name, message, hint),))


def _kept(spec: Spec[Any], check_id: str, reasons: list[str], hint: str, value: T) -> Checked[T]:
    """Some entries of a list setting were unusable: one problem per reason."""
    problems = tuple(
        Problem(check_id, spec.name, f"{spec.name} {reason}; using {show(value)} instead.", hint)
        for reason in reasons
    )
    return Checked(value, problems)


# -- scalars -----------------------------------------------------------------


def boolean(spec: Spec[bool], raw: object) -> Checked[bool]:
    if isinstance(raw, bool):
        return Checked(raw)
    return _replaced(
        spec,
        "django_reqlog.E009",
        f"must be True or False, not {show(raw)}",
        f"Write a Python bool, e.g. {spec.name} = False: any non-empty string, "
        "'false' and 'no' included, is true.",
        spec.safe_value,
    )


def _is_int(raw: object) -> bool:
    return isinstance(raw, int) and not isinstance(raw, bool)


def body_bytes(spec: Spec[int], raw: object) -> Checked[int]:
    if not _is_int(raw) or raw < 0:  # type: ignore[operator]
        return _replaced(
            spec,
            "django_reqlog.E005",
            f"must be an integer >= 0, not {show(raw)}",
            f"Give a number of bytes, e.g. {spec.name} = 16384 (not '16k').",
            spec.safe_value,
        )
    assert isinstance(raw, int)
    if raw <= _BODY_FITS:
        return Checked(raw)
    warning = Problem(
        "django_reqlog.W003",
        spec.name,
        f"{spec.name} is {raw}; events are capped at 300 KiB, so bodies beyond about "
        "256 KiB are trimmed when formatted.",
        f"Keep it at or below {_BODY_FITS}.",
        is_error=False,
    )
    return Checked(raw, (warning,))


def milliseconds(spec: Spec[int], raw: object) -> Checked[int]:
    if _is_int(raw) and raw >= 1:  # type: ignore[operator]
        assert isinstance(raw, int)
        return Checked(raw)
    return _replaced(
        spec,
        "django_reqlog.E005",
        f"must be an integer >= 1, not {show(raw)}",
        f"Give a whole number of milliseconds, e.g. {spec.name} = 500.",
        spec.safe_value,
    )


def sample_rate(spec: Spec[float], raw: object) -> Checked[float]:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        rate = float(raw)
        if math.isfinite(rate) and 0.0 <= rate <= 1.0:
            return Checked(rate)
    return _replaced(
        spec,
        "django_reqlog.E004",
        f"must be a number between 0.0 and 1.0, not {show(raw)}",
        "1.0 keeps every request; 0.1 keeps 10% of successful ones "
        "(errors and slow requests are always kept).",
        spec.safe_value,
    )


def header_name(spec: Spec[str], raw: object) -> Checked[str]:
    if isinstance(raw, str) and _HEADER_NAME.fullmatch(raw):
        return Checked(raw)
    return _replaced(
        spec,
        "django_reqlog.E006",
        f"must be an HTTP header name (letters, digits and '-'), not {show(raw)}",
        "For example 'X-Correlation-ID'.",
        spec.safe_value,
    )


def dotted_callable(spec: Spec[str | None], raw: object) -> Checked[str | None]:
    if raw is None:
        return Checked(None)
    if not isinstance(raw, str):
        problem = "must be a dotted path string"
    else:
        try:
            func = import_string(raw)
        except Exception as exc:  # ImportError, or whatever the module raised
            problem = f"cannot be imported ({exc!r})"
        else:
            if callable(func):
                return Checked(raw)
            problem = "is not callable"
    return _replaced(
        spec,
        "django_reqlog.E008",
        f"{problem}: {show(raw)}",
        "Point it at a function taking the event's field dict and returning it, e.g. "
        "'myproject.logging.redact'. Until then events get the built-in masking only.",
        None,
    )


# -- lists -------------------------------------------------------------------


def joined_pattern(patterns: Iterable[str]) -> str:
    """How a list of regexes is matched: one alternation, each in a group."""
    return "|".join(f"(?:{p})" for p in patterns)


def _compiled_with(kept: list[str], pattern: str) -> str | None:
    """Why ``pattern`` cannot join ``kept``, or None when it can.

    Each entry is checked as it is used, inside the alternation: an entry that
    compiles alone can still fail there (a global flag such as ``(?i)`` not at
    the start, a group name used twice). Python 3.10 only warns about such a
    flag (an exception where warnings are errors) and applies it to the whole
    alternation, changing what the other entries match; 3.11 rejects it. Every
    entry sits inside a group, so a global flag there is never at the start:
    it is refused on every Python."""
    try:
        compiled = re.compile(joined_pattern([*kept, pattern]))
    except (re.error, DeprecationWarning) as exc:
        return str(exc)
    if compiled.flags & ~re.UNICODE:
        return "global flags not at the start of the expression"
    return None


def _compiled_alone(pattern: str) -> str | None:
    """Why ``pattern`` does not compile on its own, or None when it does."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return str(exc)
    return None


def _entries(raw: object, *, lenient: bool) -> tuple[list[object] | None, str | None]:
    """The entries of a list setting, and why its type is wrong (if it is).

    ``lenient`` (privacy settings) keeps what the user plainly meant: a lone
    string is one entry, a set is its members. Otherwise a wrong type gives
    no entries and the fallback is used."""
    if isinstance(raw, _LISTS):
        return list(raw), None
    why = f"must be a list or tuple, not {type(raw).__name__} {show(raw)}"
    if lenient and isinstance(raw, str):
        return [raw], why
    if lenient and isinstance(raw, (set, frozenset)):
        return sorted(raw, key=show), why
    return None, why


def _as_text(entry: object) -> str:
    """A non-string entry of a privacy list, kept rather than dropped."""
    if isinstance(entry, re.Pattern) and isinstance(entry.pattern, str):
        return entry.pattern
    return re.escape(str(entry))


def _regexes(
    spec: Spec[tuple[str, ...]],
    raw: object,
    check_id: str,
    *,
    lenient: bool,
    hint: str,
    joined: bool = True,
) -> Checked[tuple[str, ...]]:
    entries, why = _entries(raw, lenient=lenient)
    if entries is None:
        return _replaced(spec, check_id, why or "", hint, spec.safe_value)
    reasons = [why] if why else []
    kept: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            pattern = entry
        else:
            reasons.append(f"contains {show(entry)}, which is not a string")
            if not lenient:
                continue
            pattern = _as_text(entry)
        error = _compiled_with(kept, pattern) if joined else _compiled_alone(pattern)
        if error is None:
            kept.append(pattern)
        else:
            reasons.append(f"contains an invalid regular expression {show(pattern)} ({error})")
    return _kept(spec, check_id, reasons, hint, tuple(kept)) if reasons else Checked(tuple(kept))


def skip_paths(spec: Spec[tuple[str, ...]], raw: object) -> Checked[tuple[str, ...]]:
    return _regexes(
        spec,
        raw,
        "django_reqlog.E001",
        lenient=False,
        hint=f"For example: {spec.name} = [r'^/healthz$']. An invalid value skips nothing "
        "rather than losing events.",
    )


def value_patterns(spec: Spec[tuple[str, ...]], raw: object) -> Checked[tuple[str, ...]]:
    # Masking compiles and applies each value pattern on its own
    # (django_reqlog/masking.py), so each is checked alone.
    return _regexes(
        spec,
        raw,
        "django_reqlog.E002",
        lenient=True,
        joined=False,
        hint=f"For example: {spec.name} = [r'ACME-\\d{{4}}']. A pattern that does not compile "
        "cannot mask anything: fix it.",
    )


def key_names(spec: Spec[tuple[str, ...]], raw: object) -> Checked[tuple[str, ...]]:
    hint = f"For example: {spec.name} = ['ssn', 'iban']."
    entries, why = _entries(raw, lenient=True)
    if entries is None:
        return _replaced(spec, "django_reqlog.E007", why or "", hint, spec.safe_value)
    reasons = [why] if why else []
    for entry in entries:
        if not isinstance(entry, str):
            reasons.append(f"contains {show(entry)}, which is not a string")
    names = tuple(e if isinstance(e, str) else str(e) for e in entries)
    return _kept(spec, "django_reqlog.E007", reasons, hint, names) if reasons else Checked(names)


def proxies(spec: Spec[tuple[str, ...]], raw: object) -> Checked[tuple[str, ...]]:
    hint = (
        f"For example: {spec.name} = ['10.0.0.0/8', '::1']. Until it is fixed no proxy "
        "is trusted: the client IP is the connection's peer address."
    )
    if not isinstance(raw, _LISTS):
        what = f"must be a list or tuple of IP addresses or CIDRs, not {show(raw)}"
        return _replaced(spec, "django_reqlog.E003", what, hint, spec.safe_value)
    reasons: list[str] = []
    warnings: list[Problem] = []
    for entry in raw:
        try:
            network = ipaddress.ip_network(str(entry).strip(), strict=False)
        except ValueError as exc:
            reasons.append(f"contains an invalid address or CIDR {show(entry)} ({exc})")
            continue
        if not isinstance(entry, str):
            reasons.append(f"contains {show(entry)}, which is not a string")
        elif network.prefixlen == 0:
            warnings.append(_trusts_everyone(spec, entry))
    if reasons:
        return _kept(spec, "django_reqlog.E003", reasons, hint, spec.safe_value)
    return Checked(tuple(raw), tuple(warnings))


def _trusts_everyone(spec: Spec[Any], entry: str) -> Problem:
    return Problem(
        "django_reqlog.W002",
        spec.name,
        f"{spec.name} contains {entry!r}, which trusts every address.",
        "Any client could then forge its logged IP with X-Forwarded-For; "
        "list only your proxies' addresses.",
        is_error=False,
    )


# -- names -------------------------------------------------------------------


def unknown_names(present: Iterable[str], known: Collection[str]) -> list[Problem]:
    """A warning for each ``REQLOG_*`` setting the package does not read."""
    problems = []
    for name in sorted(n for n in present if n.startswith("REQLOG_") and n not in known):
        nearest = difflib.get_close_matches(name, known, n=1)
        guess = f"; did you mean {nearest[0]}?" if nearest else "."
        problems.append(
            Problem(
                "django_reqlog.W006",
                name,
                f"{name} is not a django-reqlog setting, so it has no effect{guess}",
                f"Rename it to {nearest[0]}."
                if nearest
                else "See docs/settings.md for the settings django-reqlog reads.",
                is_error=False,
            )
        )
    return problems
