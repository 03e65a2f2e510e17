"""Masking of secrets by key name and by value shape.

This module is the reference implementation of the specification in
``docs/masking.md`` and the fallback whenever the compiled core
(``django_reqlog._native``) is missing or switched off with
``REQLOG_NATIVE=0``. Each public function asks the core first; the core
declines (returns None) for input it does not handle, such as text holding
lone surrogates, and this module answers instead.

Everything here runs in the formatting step, on copies: the data the view
received is never touched.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple
from urllib.parse import unquote

from django_reqlog.conf import conf, register_cache_clearer

try:
    from django_reqlog import _native
except ImportError:  # no compiled core on this platform: the reference below answers
    _native = None  # type: ignore[assignment]

REDACTED = "[REDACTED]"
_JSON_REDACTED = f'"{REDACTED}"'

# -- keys ---------------------------------------------------------------------

# Normalised names (lower case, letters and digits only) that are secret
# wherever they appear inside a key: "user.password", "X-Api-Key", "client_secret".
_SENSITIVE_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "authorization",
    "credential",
    "privatekey",
    "sessionid",
    "sessid",
    "csrf",
    "xsrf",
    "cookie",
    "cardnumber",
    "creditcard",
    "cvv",
    "cvc",
    "signature",
)
# Short names, too common inside words ("author", "spin") to match anywhere:
# secret as the whole key or its last word ("user_pin", "userPin", "X-Auth"),
# and the rarer ones also at the end of a run-together key ("oauth", "dbpwd").
_LAST_WORDS = frozenset({"auth", "pwd", "session", "pin", "ssn", "sid", "jwt", "otp"})
_RUN_TOGETHER_ENDINGS = ("auth", "pwd", "session", "sid", "ssn", "jwt", "otp")
# Secret only as the whole key: "code" and "state" of an OAuth redirect, but
# not "country_code" or "state_name".
_WHOLE_KEYS = frozenset({"code", "key", "nonce", "otp", "refresh", "state"})

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# Words of a key: separators and camelCase humps both split ("userPin",
# "USER_PIN", "user.pin" -> ..., "pin"); digits are not words ("pin2").
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")


def normalise_key(key: str) -> str:
    return _NON_ALNUM.sub("", key.lower())


def _is_sensitive(key: str, parts: re.Pattern[str]) -> bool:
    """``parts``: the names matched anywhere in a key, built-in and configured."""
    norm = normalise_key(key)
    if not norm:
        return False
    if norm in _WHOLE_KEYS or norm in _LAST_WORDS or norm.endswith(_RUN_TOGETHER_ENDINGS):
        return True
    words = _WORD.findall(key)
    if words and words[-1].lower() in _LAST_WORDS:
        return True
    return parts.search(norm) is not None


# -- value shapes ---------------------------------------------------------------

# The characters Python's str.isspace() accepts, written out so that the
# compiled core can use the very same set.
_SPACE = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# The scheme words in ASCII letters of either case, not glued to an ASCII
# letter, digit or underscore in front.
_BEARER = re.compile(
    rf"(?<![A-Za-z0-9_])(?:bearer|token|basic)[{_SPACE}]+[A-Za-z0-9._~+/=-]{{8,}}",
    re.ASCII | re.IGNORECASE,
)
# No boundary in front: "%3DeyJ..." (a JWT in an encoded URL) must match.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
# A chain of ASCII digit groups joined by single spaces or hyphens, holding at
# least 13 digits: the only place a card number can be.
_CARD_CHAIN = re.compile(r"[0-9](?:[ -]?[0-9]){12,}")
_GROUP_SEPARATOR = re.compile("([ -])")


def _scrub(text: str, patterns: tuple[re.Pattern[str], ...]) -> str:
    """The value shapes, in order, each on the result of the one before."""
    # No built-in shape is shorter than 13 characters, and a user pattern's
    # placeholder cannot join digits into a card number.
    built_in = len(text) >= 13
    if built_in:
        text = _BEARER.sub(REDACTED, text)
        if "eyJ" in text:
            text = _JWT.sub(REDACTED, text)
    for pattern in patterns:
        text = pattern.sub(REDACTED, text)
    return _CARD_CHAIN.sub(_mask_cards_in_chain, text) if built_in else text


def _mask_cards_in_chain(match: re.Match[str]) -> str:
    parts = _GROUP_SEPARATOR.split(match.group(0))
    groups, separators = parts[0::2], parts[1::2]
    out: list[str] = []
    start = 0
    while start < len(groups):
        end = _longest_card(groups, start)
        out.append(groups[start] if end is None else REDACTED)
        after = start + 1 if end is None else end + 1
        if after <= len(separators):
            out.append(separators[after - 1])
        start = after
    return "".join(out)


def _longest_card(groups: list[str], start: int) -> int | None:
    """The last group of the longest card starting at ``groups[start]``."""
    digits, found = "", None
    for index in range(start, len(groups)):
        digits += groups[index]
        if len(digits) > 19:
            break
        if len(digits) >= 13 and _luhn_ok(digits):
            found = index
    return found


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


# -- configuration ----------------------------------------------------------------


class _Config(NamedTuple):
    extra_parts: tuple[str, ...]  # REQLOG_SENSITIVE_FIELDS, normalised
    parts: re.Pattern[str]  # the names matched anywhere in a key, these included
    patterns: tuple[re.Pattern[str], ...]  # REQLOG_SENSITIVE_VALUE_PATTERNS that compile


_CONFIG: list[_Config] = []  # built on first use, dropped when a setting changes
_CORE: list[Any] = []


def _config() -> _Config:
    if _VIEWS_ACTIVE:
        view = _view.get()
        if view is not None:
            return view[0]
    if not _CONFIG:
        _CONFIG.append(_new_config(conf.sensitive_fields, _compiled_patterns()))
    return _CONFIG[0]


def _new_config(names: Iterable[str], patterns: tuple[re.Pattern[str], ...]) -> _Config:
    extra = tuple(dict.fromkeys(p for p in (normalise_key(str(f)) for f in names) if p))
    parts = re.compile("|".join((*_SENSITIVE_PARTS, *extra)))  # letters and digits only
    return _Config(extra, parts, patterns)


def _compiled_patterns() -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in conf.sensitive_value_patterns:
        try:
            regex = re.compile(pattern)
        except (re.error, TypeError):
            continue  # reported by the system check django_reqlog.E002
        if isinstance(regex.pattern, str):
            compiled.append(regex)
    return tuple(compiled)


def _clear() -> None:
    _CONFIG.clear()
    _CORE.clear()
    _VIEW_CONFIGS.clear()


register_cache_clearer(_clear)


def native_enabled() -> bool:
    """True when the compiled core masks, False when this module does: the
    core is not installed, or ``REQLOG_NATIVE=0`` switched it off."""
    return _native is not None and os.environ.get("REQLOG_NATIVE", "").strip() != "0"


_NATIVE_ON = native_enabled()  # read once: a process masks one way


def core_masker() -> Any:
    """The compiled core's masker for the current settings, or None."""
    if not _NATIVE_ON:
        return None
    if _VIEWS_ACTIVE:
        view = _view.get()
        if view is not None:
            return view[1]
    if not _CORE:
        _CORE.append(_native_masker(_config()))
    return _CORE[0]


def _native_masker(config: _Config) -> Any:
    """The core's masker, given this module's name tables and the settings."""
    names = (
        [*_SENSITIVE_PARTS, *config.extra_parts],
        sorted(_LAST_WORDS),
        list(_RUN_TOGETHER_ENDINGS),
        sorted(_WHOLE_KEYS),
    )
    return _native.Masker(names, [(p.pattern, p.flags, p) for p in config.patterns])


# -- a view's own key names --------------------------------------------------------

# (config, core masker) for REQLOG_SENSITIVE_FIELDS plus a view's
# sensitive_fields, in the context formatting one of its events.
_view: ContextVar[tuple[_Config, Any] | None] = ContextVar("django_reqlog_view_keys", default=None)
_VIEW_CONFIGS: dict[tuple[str, ...], tuple[_Config, Any]] = {}
_MAX_VIEW_CONFIGS = 256  # one per decorated view; more are built each time
# Non-empty while some thread formats a view's event: without one, reading
# the context variable is skipped.
_VIEWS_ACTIVE: list[None] = []


@contextmanager
def also_sensitive_fields(names: tuple[str, ...] | None) -> Iterator[None]:
    """Mask as if ``names`` were in REQLOG_SENSITIVE_FIELDS too, in this
    context (a view's ``@options(sensitive_fields=...)``)."""
    if not names:
        yield
        return
    global_config = _config()
    view = _VIEW_CONFIGS.get(names)
    if view is None:
        config = _new_config((*global_config.extra_parts, *names), global_config.patterns)
        view = (config, _native_masker(config) if _NATIVE_ON else None)
        if len(_VIEW_CONFIGS) < _MAX_VIEW_CONFIGS:
            _VIEW_CONFIGS[names] = view
    token = _view.set(view)
    _VIEWS_ACTIVE.append(None)
    try:
        yield
    finally:
        _VIEWS_ACTIVE.pop()
        _view.reset(token)


def has_extra_value_patterns() -> bool:
    """True when REQLOG_SENSITIVE_VALUE_PATTERNS holds a usable pattern."""
    return bool(_config().patterns)


# -- JSON -------------------------------------------------------------------------

_MAX_DEPTH = 128  # deeper documents are masked in lenient mode
_NESTED_DEPTH = 2  # JSON documents inside JSON strings, masked by key down to this depth
_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*'
# Commas, stray colons and whitespace are not tokens: each match steps over
# those in front of its token, and the output is stitched from slices of the input.
_JSON_TOKEN = re.compile(
    r"[ \t\n\r,:]*(?:"
    rf"(?P<string>{_STRING}\")(?P<colon>[ \t\n\r]*:)?"  # a key when the colon follows
    rf"|(?P<cut>{_STRING}\\?\Z)"
    r"|(?P<open>[{\[])|(?P<close>[}\]])"
    r'|(?P<word>[^ \t\n\r{}\[\]:,"]+))',
    re.S,
)
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_ESCAPE = re.compile(r'\\(?:u([0-9a-fA-F]{4})|(["\\/bfnrt]))')
_ESCAPED_CHARS = dict(zip('"\\/bfnrt', '"\\/\b\f\n\r\t', strict=True))
_SURROGATE = re.compile("[\ud800-\udfff]")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# parse_int=str: no integer conversion, so huge integers are not refused.
_DECODER = json.JSONDecoder(parse_int=str, parse_constant=_reject_constant)


def _is_json(text: str) -> bool:
    try:
        _DECODER.decode(text)
    except (ValueError, RecursionError):
        return False
    return True


class _Keys(NamedTuple):
    """Which keys of one document are masked: the settings' and the view's."""

    config: _Config
    also_sensitive: frozenset[str]
    everything: bool

    def masked(self, key: str) -> bool:
        return (
            self.everything or key in self.also_sensitive or _is_sensitive(key, self.config.parts)
        )


def _keys(also_sensitive: frozenset[str] | None) -> _Keys:
    also = also_sensitive or frozenset()
    return _Keys(_config(), also, "__ALL__" in also)


def _mask_json(text: str, keys: _Keys, depth: int) -> str:
    """One pass over the tokens of ``text``, masking in the text as sent; see
    "JSON" in the specification. Lenient mode (not a valid document, or one
    nested deeper than _MAX_DEPTH) adds the value shapes over the whole result."""
    out: list[str] = []
    copied = 0  # text[copied:] is not in ``out`` yet
    level = deepest = 0
    pending = False  # the next value belongs to a masked key
    hidden_at = -1  # while >= 0: where the masked container began
    hidden_level = 0
    # Keys repeat in arrays of objects: each is judged and scrubbed once.
    seen_keys: dict[str, tuple[bool, str | None]] = {}
    for token in _JSON_TOKEN.finditer(text):
        kind = token.lastgroup or ""
        if kind in ("open", "close"):
            if kind == "open":
                level += 1
                deepest = max(deepest, level)
                if pending:  # a masked key's object or array: hidden to its close
                    hidden_at, hidden_level = token.start(kind), level
            elif level:
                level -= 1
                if hidden_at >= 0 and level < hidden_level:
                    out += [text[copied:hidden_at], _JSON_REDACTED]
                    copied, hidden_at = token.end(), -1
            pending = False
        elif hidden_at < 0:
            replacement: str | None
            if pending and kind != "colon":  # a masked key's value
                pending, replacement = False, _JSON_REDACTED
            else:  # (after a masked key, another key: the first has no value)
                pending, replacement = _token(token, kind, keys, depth, seen_keys)
            if replacement is not None:
                group = "string" if kind == "colon" else kind
                out += [text[copied : token.start(group)], replacement]
                copied = token.end(group)
    if hidden_at >= 0:  # a masked container that never closes: masked to the end
        out += [text[copied:hidden_at], _JSON_REDACTED]
        copied = len(text)
    masked = "".join(out) + text[copied:] if out else text
    if deepest > _MAX_DEPTH or not _is_json(text):
        masked = _scrub(masked, keys.config.patterns)
    return masked


def _token(
    token: re.Match[str],
    kind: str,
    keys: _Keys,
    depth: int,
    seen_keys: dict[str, tuple[bool, str | None]],
) -> tuple[bool, str | None]:
    """(whether this is a key judged sensitive, the token's new text or None)
    for a key ("colon": a string and its colon), a string value, cut or not,
    or a word."""
    if kind == "colon":
        body = token.group("string")[1:-1]
        if body not in seen_keys:
            key = _decode(body)
            masked = _changed(body, key, _scrub(key, keys.config.patterns), closed=True)
            seen_keys[body] = (keys.masked(key), masked)
        return seen_keys[body]
    if kind == "word":
        return False, _mask_word(token.group(kind), keys.config)
    return False, _mask_string(token.group(kind), kind == "string", keys, depth)


def _mask_string(raw: str, closed: bool, keys: _Keys, depth: int) -> str | None:
    """A string value, masked; None when it is unchanged. One holding a JSON
    document of its own is masked as a document."""
    body = raw[1:-1] if closed else raw[1:]
    if (
        len(body) < 13
        and not keys.config.patterns
        and "\\" not in body
        and "{" not in body
        and "[" not in body
    ):
        return None  # too short for a built-in shape, and no document inside
    value = _decode(body)
    if depth < _NESTED_DEPTH and value.lstrip(" \t\n\r")[:1] in ("{", "["):
        return _changed(None, value, _mask_json(value, keys, depth + 1), closed)
    return _changed(body, value, _scrub(value, keys.config.patterns), closed)


def _changed(body: str | None, value: str, masked: str, closed: bool) -> str | None:
    """The string's new text, or None when masking changed nothing. Without
    escapes in ``body`` (the text between the quotes) the masked text goes
    between the quotes as it is; otherwise it is encoded again."""
    if masked == value:
        return None
    if body is not None and "\\" not in body:
        return f'"{masked}"' if closed else f'"{masked}'
    encoded = json.dumps(masked, ensure_ascii=False)
    return encoded if closed else encoded[:-1]


def _decode(body: str) -> str:
    """A JSON string's contents with its escapes decoded; an escape JSON does
    not define (or one cut short) is kept as written."""
    if "\\" not in body:
        return body
    decoded = _ESCAPE.sub(
        lambda m: chr(int(m.group(1), 16)) if m.group(1) else _ESCAPED_CHARS[m.group(2)], body
    )
    if _SURROGATE.search(decoded):  # join escaped surrogate pairs, keep lone ones
        decoded = decoded.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return decoded


def _mask_word(word: str, config: _Config) -> str | None:
    """A bare word: a number whose digits hold a secret shape becomes a quoted
    placeholder; in text that is not JSON, other words are free text."""
    if word in ("true", "false", "null"):
        return None
    if _JSON_NUMBER.fullmatch(word):
        if len(word) < 13 and not config.patterns:
            return None  # too short for a card number
        return _JSON_REDACTED if _scrub(word, config.patterns) != word else None
    masked = _free_text(word, config)
    return masked if masked != word else None


# -- free text, forms and queries ----------------------------------------------------

# ``password=x``, ``token: x``, ``"secret": "x"``, ``'pwd': 'x'``. A value
# never starts with a bracket, so in ``'auth': {'token': 'x'}`` the scan moves
# on to the inner pair instead of swallowing half the object. After a colon an
# unquoted value runs to the end of the line (or , ; &), as in header lines:
# ``Authorization: Digest abc`` loses the scheme and the credentials.
_KEY = r"""(["']?)([A-Za-z0-9_.%\-\[\]]{1,96})\1"""
_QUOTED = r""""[^"\n]*"|'[^'\n]*'"""
_KEY_COLON_VALUE = re.compile(
    rf"{_KEY}([{_SPACE}]*:[ \t]*)({_QUOTED}|[^{_SPACE}&;,{{\[][^\r\n&;,]*)"
)
_KEY_EQUALS_VALUE = re.compile(
    rf"{_KEY}([{_SPACE}]*=[{_SPACE}]*)({_QUOTED}|[^{_SPACE}&;,{{\[][^{_SPACE}&;,]*)"
)


def _free_text(text: str, config: _Config) -> str:
    if "{" in text or "[" in text:
        text = _mask_json(text, _Keys(config, frozenset(), False), 0)
    # Shapes first: "Authorization: Bearer x" must lose the token, not just "Bearer".
    text = _scrub(text, config.patterns)
    if ":" in text:
        text = _mask_pairs_in_text(text, _KEY_COLON_VALUE, config)
    if "=" in text:
        text = _mask_pairs_in_text(text, _KEY_EQUALS_VALUE, config)
    return text


def _mask_pairs_in_text(text: str, pair: re.Pattern[str], config: _Config) -> str:
    """Pairs are found left to right; after a pair whose key is not sensitive
    the search goes on right after its separator, so pairs inside its value
    ("note: x password: y") are found too."""
    out: list[str] = []
    copied = pos = 0
    while (match := pair.search(text, pos)) is not None:
        key = match.group(2)
        if _is_sensitive(unquote(key) if "%" in key else key, config.parts):
            quote = match.group(4)[0] if match.group(4)[0] in "\"'" else ""
            out += [text[copied : match.start(4)], quote, REDACTED, quote]
            copied = pos = match.end()
        else:
            pos = match.end(3)
    return "".join(out) + text[copied:] if out else text


def _value(text: str, config: _Config) -> str:
    if text.lstrip()[:1] in ("{", "["):
        return _mask_json(text, _Keys(config, frozenset(), False), 0)
    return _free_text(text, config)


# -- the public functions: the core when it answers, else the reference -----------------


def is_sensitive_key(key: str) -> bool:
    core = core_masker()
    answer = core.is_sensitive_key(key) if core is not None else None
    return _is_sensitive(key, _config().parts) if answer is None else bool(answer)


def scrub_text(text: str) -> str:
    """Mask values that look secret whatever their key: bearer, token and
    basic credentials, JWTs, card numbers and REQLOG_SENSITIVE_VALUE_PATTERNS."""
    core = core_masker()
    masked = core.scrub_text(text) if core is not None else None
    return _scrub(text, _config().patterns) if masked is None else str(masked)


def scrub_free_text(text: str) -> str:
    """Mask unstructured text: JSON fragments in it, secret-shaped values, and
    ``key=value`` / ``key: value`` pairs under sensitive keys (quoted keys too,
    as in dict reprs)."""
    core = core_masker()
    masked = core.scrub_free_text(text) if core is not None else None
    return _free_text(text, _config()) if masked is None else str(masked)


def scrub_value(text: str) -> str:
    """Mask one form, query or multipart value: a JSON document inside it is
    masked by key, anything else as free text."""
    core = core_masker()
    masked = core.scrub_value(text) if core is not None else None
    return _value(text, _config()) if masked is None else str(masked)


def mask_json_text(text: str, also_sensitive: frozenset[str] | None = None) -> str:
    """Mask a JSON document given as text (or text sent as JSON that is not):
    values of sensitive keys become the placeholder, containers whole, and
    everything else is kept as sent. ``also_sensitive`` holds the view's
    sensitive_post_parameters ("__ALL__": every key)."""
    core = core_masker()
    masked = core.mask_json_text(text, also_sensitive) if core is not None else None
    return _mask_json(text, _keys(also_sensitive), 0) if masked is None else str(masked)


def mask_pairs(
    pairs: Iterable[tuple[str, str]], also_sensitive: frozenset[str] | None = None
) -> list[tuple[str, str]]:
    """Mask form or query pairs; ``also_sensitive`` holds the view's sensitive_post_parameters."""
    pairs = list(pairs)
    core = core_masker()
    masked = core.mask_pairs(pairs, also_sensitive) if core is not None else None
    if masked is not None:
        return list(masked)
    keys = _keys(also_sensitive)
    return [
        (key, REDACTED if keys.masked(key) else _value(value, keys.config)) for key, value in pairs
    ]
