"""Masking of secrets by key name and by value shape.

Everything here runs in the formatting step, never on the request thread,
and works on copies: the data the view received is never touched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from django_reqlog._json import is_json
from django_reqlog.ascii_regex import AsciiAwarePattern
from django_reqlog.conf import conf, register_cache_clearer

REDACTED = "[REDACTED]"
_QUOTED_REDACTED = f'"{REDACTED}"'

# Normalised (lower-case, alphanumerics only) names that are secret wherever
# they appear inside a key: "user.password", "X-Api-Key", "client_secret".
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
# Short names that are too common as substrings ("author", "spin") to match
# anywhere, so they count only as the whole key or its last word ("user_pin",
# "userPin", "X-Auth"); the rarer ones also as the end of a run-together key.
_SENSITIVE_EXACT = frozenset({"auth", "pwd", "session", "pin", "ssn", "sid", "jwt", "otp"})
_SENSITIVE_SUFFIXES = ("auth", "pwd", "session", "sid", "ssn", "jwt", "otp")
# Names that carry a secret when they are the whole key: OAuth's ``code`` and
# ``state``, confirmation ``key``s, ``nonce``, one-time ``otp`` codes and
# ``refresh`` tokens. Only the whole (normalised) key: ``country_code``,
# ``keyboard`` and ``state_id`` are not masked.
_SENSITIVE_WHOLE = frozenset({"code", "key", "nonce", "otp", "refresh", "state"})

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# Words of a key: separators and camelCase humps both split ("userPin",
# "USER_PIN", "user.pin" -> ..., "pin"); digits are not words ("pin2").
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")


def normalise_key(key: str) -> str:
    return _NON_ALNUM.sub("", key.lower())


@lru_cache(maxsize=4096)
def is_sensitive_key(key: str) -> bool:
    norm = normalise_key(key)
    if not norm:
        return False
    if norm in _SENSITIVE_WHOLE or norm in _SENSITIVE_EXACT or norm.endswith(_SENSITIVE_SUFFIXES):
        return True
    words = _WORD.findall(key)
    if words and words[-1].lower() in _SENSITIVE_EXACT:
        return True
    if any(part in norm for part in _SENSITIVE_PARTS):
        return True
    return any(extra in norm for extra in _extra_parts())


@lru_cache(maxsize=1)
def _extra_parts() -> tuple[str, ...]:
    return tuple(p for p in (normalise_key(str(f)) for f in conf.sensitive_fields) if p)


_BEARER = r"(?i:\b(?:bearer|token|basic)\s+)[A-Za-z0-9._~+/=-]{8,}"
# No word boundary in front: "%3DeyJ..." (a JWT in an encoded URL) must match.
_JWT = r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"
# A run of ASCII digit groups joined by single spaces or dashes; cards are
# looked for inside it, so a card next to another number is still found.
_GROUP_SEPARATOR = re.compile(r"([ -])")


# Only runs holding at least 13 digits can contain a card: matching those
# alone keeps the Python callback off the many short numbers in a body.
# A match always starts at the first digit of its run: a later start would
# see fewer digits. No lookbehind, so the engine can skip to digits quickly.
_CARD_LENGTH_RUN = re.compile(r"[0-9](?:[ -]?[0-9]){12,}")
_NUMBER_CHARS = frozenset("0123456789.eE+-")
_NUMBER_TAIL = re.compile(r"(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
# A superset of the runs above: from a digit to a digit, 13 characters or more.
_DIGIT_RUN = re.compile(r"[0-9][0-9 -]{11,}[0-9]")
_BEARER_RE = re.compile(_BEARER)
_JWT_RE = re.compile(_JWT)
_BEARER_WORDS = ("bearer", "token", "basic")


@lru_cache(maxsize=1)
def _extra_value_re() -> AsciiAwarePattern | None:
    extra = []
    for pattern in conf.sensitive_value_patterns:
        try:
            re.compile(pattern)
        except re.error:
            continue
        extra.append(f"(?:{pattern})")
    return AsciiAwarePattern(re.compile("|".join(extra))) if extra else None


def has_extra_value_patterns() -> bool:
    """True when REQLOG_SENSITIVE_VALUE_PATTERNS holds a usable pattern."""
    return _extra_value_re() is not None


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _mask_cards_in_run(match: re.Match[str]) -> str:
    run = match.group(0)
    if len(run) < 13:
        return run
    parts = _GROUP_SEPARATOR.split(run)  # digits, sep, digits, sep, ...
    groups = parts[0::2]
    out: list[str] = []
    start = 0
    while start < len(groups):
        digits = ""
        end = -1
        for index in range(start, len(groups)):
            digits += groups[index]
            if len(digits) > 19:
                break
            if len(digits) >= 13 and _luhn_ok(digits):
                end = index  # keep looking: the longest card wins
        if end == -1:
            out.append(groups[start])
            if start < len(groups) - 1:
                out.append(parts[2 * start + 1])
            start += 1
            continue
        out.append(REDACTED)
        if end < len(groups) - 1:
            out.append(parts[2 * end + 1])
        start = end + 1
    return "".join(out)


def scrub_text(text: str, *, json_text: bool = False) -> str:
    """Mask values that look secret whatever their key: tokens, JWTs, card numbers
    (13-19 digits passing the Luhn check, optionally grouped by spaces or dashes).

    ``json_text``: ``text`` is JSON without escapes, so a card written as a
    bare number is replaced by a quoted placeholder and the JSON stays valid.
    """
    # Cheap substring tests first: most text holds none of these shapes, and
    # a regex alternation is tried at every position of the text.
    lowered = text.lower()
    if any(word in lowered for word in _BEARER_WORDS):
        text = _BEARER_RE.sub(REDACTED, text)
    if "eyJ" in text:
        text = _JWT_RE.sub(REDACTED, text)
    extra = _extra_value_re()
    if extra is not None:
        text = extra.sub(REDACTED, text)
    if len(text) >= 13:
        text = _mask_cards(text, json_text)
    return text


def _mask_cards(text: str, json_text: bool = False) -> str:
    # The exact pattern is slow to try at every digit of a long text; a
    # plain run of digits, spaces and dashes is found far faster, and every
    # exact match lies inside one, so the exact pattern only runs there.
    out: list[str] = []
    copied = 0
    for run in _DIGIT_RUN.finditer(text):
        start, end = run.span()
        masked = _CARD_LENGTH_RUN.sub(_mask_cards_in_run, text[start:end])
        if masked != text[start:end]:
            if json_text and not text.count('"', 0, start) % 2:
                # Outside strings it is one bare number: mask all of it, quoted.
                while start and text[start - 1] in _NUMBER_CHARS:
                    start -= 1  # a sign, or the integer part and exponent mark
                end = _NUMBER_TAIL.match(text, end).end()  # type: ignore[union-attr]
                masked = _QUOTED_REDACTED
            out.append(text[copied:start])
            out.append(masked)
            copied = end
    if not out:
        return text
    out.append(text[copied:])
    return "".join(out)


# ``password=x``, ``token: x``, ``"secret": "x"``, ``'pwd': 'x'``. A value
# never starts with a bracket, so in ``'auth': {'token': 'x'}`` the scan moves
# on to the inner pair instead of swallowing half the object. After a colon an
# unquoted value runs to the end of the line (or , ; &), as in header lines:
# ``Authorization: Digest abc`` loses the scheme and the credentials.
_KEY = r"""(["']?)([A-Za-z0-9_.%\-\[\]]{1,96})\1"""
_QUOTED = r""""[^"\n]*"|'[^'\n]*'"""
_KEY_COLON_VALUE = re.compile(_KEY + r"(\s*:[ \t]*)(" + _QUOTED + r"|[^\s&;,{\[][^\r\n&;,]*)")
_KEY_EQUALS_VALUE = re.compile(_KEY + r"(\s*=\s*)(" + _QUOTED + r"|[^\s&;,{\[][^\s&;,]*)")


def _mask_pair(match: re.Match[str]) -> str:
    key = match.group(2)
    if not is_sensitive_key(unquote(key) if "%" in key else key):
        return match.group(0)
    quote = match.group(1)
    value_quote = match.group(4)[0] if match.group(4)[0] in "\"'" else ""
    return f"{quote}{key}{quote}{match.group(3)}{value_quote}{REDACTED}{value_quote}"


def scrub_free_text(text: str) -> str:
    """Mask unstructured text: JSON fragments in it, secret-shaped values, and
    ``key=value`` / ``key: value`` pairs under sensitive keys (quoted keys too,
    as in dict reprs)."""
    if "{" in text or "[" in text:
        text = mask_json_text(text)
    # Shapes first: "Authorization: Bearer x" must lose the token, not just "Bearer".
    text = scrub_text(text)
    if ":" in text:
        text = _KEY_COLON_VALUE.sub(_mask_pair, text)
    if "=" in text:
        text = _KEY_EQUALS_VALUE.sub(_mask_pair, text)
    return text


def scrub_value(text: str) -> str:
    """Mask one form, query or multipart value: a JSON document inside it is
    masked by key, anything else as free text."""
    if text.lstrip()[:1] in ("{", "["):
        return mask_json_text(text)
    return scrub_free_text(text)


def mask_pairs(
    pairs: Iterable[tuple[str, str]], also_sensitive: frozenset[str] | None = None
) -> list[tuple[str, str]]:
    """Mask form or query pairs; ``also_sensitive`` holds the view's sensitive_post_parameters."""
    masked = []
    everything = also_sensitive is not None and "__ALL__" in also_sensitive
    for key, value in pairs:
        if everything or is_sensitive_key(key) or (also_sensitive and key in also_sensitive):
            masked.append((key, REDACTED))
        else:
            masked.append((key, scrub_value(value)))
    return masked


# Whitespace is deliberately not a token: finditer steps over it, and the
# output is stitched from slices of the input, so it is kept as it was.
_JSON_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"'  # complete string
    r'|"(?:[^"\\]|\\.)*\\?\Z'  # string cut off by truncation
    r"|[{}\[\]:,]"
    r'|[^\s{}\[\]:,"]+',
    re.S,
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


def mask_json_text(text: str, also_sensitive: frozenset[str] | None = None, _depth: int = 0) -> str:
    """Mask a JSON document given as text, without parsing it into objects.

    A single forward pass over tokens with an explicit stack: no recursion, so
    100,000 levels of nesting cost nothing special, and a document cut off by
    truncation (or not JSON at all) is masked as far as it goes. Values of
    sensitive keys are replaced whole, objects and arrays included.
    """
    if also_sensitive is None:
        masked = _mask_plain_json(text)
        if masked is not None:
            return masked
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        document = _MISSING  # truncated, not JSON, or too deep: the scanner below
    if document is not _MISSING:
        masked = _mask_parsed(document, also_sensitive, _depth)
        if masked is not None:
            return masked
    out: list[str] = []
    pos = 0  # text[pos:] has not been copied to ``out`` yet
    stack: list[str] = []  # "{" or "["
    expecting_key = False
    pending_key: str | None = None
    skip_depth = 0  # > 0 while dropping the contents of a masked container
    everything = also_sensitive is not None and "__ALL__" in also_sensitive
    for match in _JSON_TOKEN.finditer(text):
        token = match.group(0)
        first = token[0]
        if skip_depth:
            if first in "{[":
                skip_depth += 1
            elif first in "}]":
                skip_depth -= 1
                if not skip_depth:
                    if stack:
                        stack.pop()
                    pos = match.end()
            continue
        if first in "{[":
            stack.append(first)
            if pending_key is not None and _masked_key(pending_key, also_sensitive, everything):
                out.append(text[pos : match.start()])
                out.append(_QUOTED_REDACTED)
                pos = len(text)  # until the container closes, if it ever does
                skip_depth = 1
                pending_key = None
                continue
            expecting_key = first == "{"
            pending_key = None
        elif first in "}]":
            if stack:
                stack.pop()
            expecting_key = False
        elif first == ",":
            expecting_key = bool(stack) and stack[-1] == "{"
            pending_key = None
        elif first == ":":
            pass
        elif expecting_key and first == '"':
            pending_key = _decode_key(token)
            expecting_key = False
        else:
            replacement = None
            if pending_key is not None and _masked_key(pending_key, also_sensitive, everything):
                replacement = _QUOTED_REDACTED
            elif first == '"':
                masked = _mask_json_string(token, also_sensitive, _depth)
                if masked != token:
                    replacement = masked
            elif not _PLAIN_LITERAL.fullmatch(token):
                # A long number, or (in text that is not really JSON) a bare
                # word such as ``password=x``.
                scrubbed = scrub_free_text(token)
                if scrubbed != token:
                    replacement = _QUOTED_REDACTED if _NUMBER.fullmatch(token) else scrubbed
            if replacement is not None:
                out.append(text[pos : match.start()])
                out.append(replacement)
                pos = match.end()
            pending_key = None
    out.append(text[pos:])
    # Text sent as JSON that is not (``qty 2 4111 1111 1111 1111``) splits
    # into tokens no single check sees whole, and plain strings are left to
    # this one pass over the result, which masks every shape they could hold.
    return scrub_text("".join(out))


_PLAIN_LITERAL = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null")
_JSON_WS = " \t\r\n"
_STRING_OPENS_DOCUMENT = re.compile(r'"[ \t\r\n]+[{\[]')
_QUOTE_THEN_SPACE = ('" ', '"\t', '"\r', '"\n')
_COLON = re.compile(r"[ \t\r\n]*:[ \t\r\n]*")
_value_end = json.JSONDecoder().raw_decode  # the C scanner: where a JSON value ends


def _mask_plain_json(text: str) -> str | None:
    """The fast path for well-formed JSON without a single backslash, the
    common case: sensitive values are cut out of the text itself and the rest
    is kept as sent. None when ``text`` needs the full walk: not JSON, or it
    has escapes (encoded keys, JSON inside strings).

    Without backslashes every ``"`` opens or closes a string, so splitting on
    it lines the pieces up exactly: odd pieces are string contents, and a
    string is a key when the piece after it starts with a colon.
    """
    if "\\" in text or not is_json(text):
        return None
    if '"{' in text or '"[' in text:
        return None  # a string holding a document of its own: the full walk masks inside
    parts = text.split('"')
    following = zip(parts[1::2], parts[2::2], strict=False)
    if any(space in text for space in _QUOTE_THEN_SPACE):
        if _STRING_OPENS_DOCUMENT.search(text):
            return None
        keys = {key for key, after in following if after.lstrip(_JSON_WS)[:1] == ":"}
    else:  # the usual spacing, ``"key": value``: no need to skip whitespace
        keys = {key for key, after in following if after[:1] == ":"}
    hits = [key for key in keys if is_sensitive_key(key)]
    if not hits:
        return scrub_text(text, json_text=True)
    spans: list[tuple[int, int]] = []
    for key in hits:
        needle = f'"{key}"'
        at = text.find(needle)
        while at != -1:
            after = at + len(needle)
            colon = _COLON.match(text, after)
            # An even number of quotes before it: the needle opens a string.
            if colon is not None and not text.count('"', 0, at) % 2:
                start = colon.end()
                spans.append((start, _value_end(text, start)[1]))
            at = text.find(needle, after)
    out: list[str] = []
    copied = 0
    for start, end in sorted(spans):
        if start >= copied:  # not inside a value masked already
            out.append(text[copied:start])
            out.append(_QUOTED_REDACTED)
            copied = end
    out.append(text[copied:])
    return scrub_text("".join(out), json_text=True)


_MISSING: Any = object()


def _mask_parsed(document: Any, also_sensitive: frozenset[str] | None, depth: int) -> str | None:
    """Mask a document the C parser read, a few times faster than the token
    scanner. The result is re-serialised, so spacing is normalised; keys,
    order and values are kept. None if it cannot be serialised again."""
    everything = also_sensitive is not None and "__ALL__" in also_sensitive
    root: list[Any] = [document]
    stack: list[Any] = [root]  # containers whose children still need a look
    while stack:
        container = stack.pop()
        items = container.items() if isinstance(container, dict) else enumerate(container)
        for key, value in list(items):
            if isinstance(container, dict) and _masked_key(key, also_sensitive, everything):
                container[key] = REDACTED
            elif isinstance(value, (dict, list)):
                stack.append(value)
            elif isinstance(value, str):
                if depth < 2 and value.lstrip()[:1] in ("{", "["):
                    container[key] = mask_json_text(value, also_sensitive, depth + 1)
                elif _ESCAPED_IN_JSON.search(value):
                    # Serialised, "Bearer\tx" would hide its shape from the
                    # final pass; look at the decoded string instead.
                    container[key] = scrub_text(value)
            elif _card_like_int(value):
                container[key] = REDACTED
        if isinstance(container, dict) and any(_ESCAPED_IN_JSON.search(k) for k in container):
            renamed = {scrub_text(k): v for k, v in container.items()}
            container.clear()
            container.update(renamed)
    try:
        serialised = json.dumps(root[0], ensure_ascii=False)
    except (ValueError, RecursionError):
        return None
    # Every other string and key is checked for secret shapes in one pass:
    # the shapes contain no quotes, so no match can cross a JSON string.
    return scrub_text(serialised)


def _card_like_int(value: object) -> bool:
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) < 10**12:
        return False
    text = str(abs(value))
    return scrub_text(text) != text


_ESCAPED_IN_JSON = re.compile(r'[\x00-\x1f"\\]')


def _mask_json_string(token: str, also_sensitive: frozenset[str] | None, depth: int) -> str:
    """A string value. Escapes are decoded before looking ("Bearer\\tx",
    "\\u0042earer x"), and a string holding a JSON document of its own (an API
    echoing a field, a JSON-encoded column) is masked inside, to a fixed depth."""
    nested = depth < 2 and token[1:3].lstrip()[:1] in ("{", "[")
    if (nested or "\\" in token) and token.endswith('"') and len(token) > 1:
        try:
            inner = json.loads(token)
        except ValueError:
            inner = None
        if isinstance(inner, str):
            if nested:
                masked = mask_json_text(inner, also_sensitive, depth + 1)
            else:
                masked = scrub_text(inner)
            if masked != inner:
                return json.dumps(masked, ensure_ascii=False)
            return token
    # A plain string: the final pass over the whole text masks its shapes.
    return token


def _masked_key(key: str, also_sensitive: frozenset[str] | None, everything: bool) -> bool:
    return everything or is_sensitive_key(key) or bool(also_sensitive and key in also_sensitive)


def _decode_key(token: str) -> str:
    inner = token[1:-1] if len(token) > 1 and token.endswith('"') else token[1:]
    if "\\" not in inner:
        return inner
    # Escaped keys ("pass\u0077ord") must not slip past the check.
    return re.sub(
        r"\\u([0-9a-fA-F]{4})|\\(.)",
        lambda m: chr(int(m.group(1), 16)) if m.group(1) else m.group(2),
        inner,
    )


def _clear() -> None:
    is_sensitive_key.cache_clear()
    _extra_parts.cache_clear()
    _extra_value_re.cache_clear()


register_cache_clearer(_clear)
