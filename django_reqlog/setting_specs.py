"""The ``REQLOG_*`` settings the request path reads: one row each.

This table is the only place a default is written. ``conf`` reads through it,
the system checks and the startup report validate through it, and
``tests/test_docs.py`` holds docs/settings.md to it.

``fallback`` is what an invalid value is replaced with. For capture settings
it is the default. For settings that decide how much personal data leaves the
process it is the stricter choice, whatever the default: an unreadable
value must never capture more, mask less or trust more than a valid one could.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from django_reqlog import validation
from django_reqlog.validation import Checked

T = TypeVar("T")


class _Fallback(enum.Enum):
    DEFAULT = "the default"


@dataclass(frozen=True)
class Spec(Generic[T]):
    name: str
    kind: str  # the type, in docs/settings.md's Markdown
    default: T
    check: Callable[[Spec[T], object], Checked[T]]
    on_invalid: str  # what an invalid value becomes, as docs/settings.md writes it
    doc: str  # the first sentence of the setting's entry in docs/settings.md
    fallback: T | Literal[_Fallback.DEFAULT] = _Fallback.DEFAULT

    @property
    def safe_value(self) -> T:
        """The value used in place of an invalid one."""
        if self.fallback is _Fallback.DEFAULT:
            return self.default
        return self.fallback

    def validate(self, raw: object) -> Checked[T]:
        return self.check(self, raw)

    def documented_default(self) -> str:
        """The default as docs/settings.md shows it."""
        if isinstance(self.default, str):
            return json.dumps(self.default)
        if isinstance(self.default, tuple):
            return repr(list(self.default))
        return repr(self.default)


ENABLED = Spec[bool](
    "REQLOG_ENABLED",
    "`bool`",
    True,
    validation.boolean,
    "The default. Logging goes on, so the report about it is logged too.",
    "Turns capture off entirely (no event, no request-ID header), e.g. per environment.",
)
MAX_BODY_BYTES = Spec[int](
    "REQLOG_MAX_BODY_BYTES",
    "`int` >= 0",
    8192,
    validation.body_bytes,
    "The default.",
    "Largest request/response body prefix kept.",
)
CAPTURE_REQUEST_BODY = Spec[bool](
    "REQLOG_CAPTURE_REQUEST_BODY",
    "`bool`",
    True,
    validation.boolean,
    "`False`, the stricter choice: no request body is kept.",
    "Set to `False` to never look at request bodies (size from `Content-Length` is still "
    "recorded).",
    fallback=False,
)
CAPTURE_RESPONSE_BODY = Spec[bool](
    "REQLOG_CAPTURE_RESPONSE_BODY",
    "`bool`",
    False,
    validation.boolean,
    "`False`, the stricter choice.",
    "Also keep the response body prefix, for textual content types only.",
    fallback=False,
)
CAPTURE_HEADERS = Spec[bool](
    "REQLOG_CAPTURE_HEADERS",
    "`bool`",
    False,
    validation.boolean,
    "`False`, the stricter choice.",
    "Keep all request headers under `reqlog.request.headers` (masked; at most 100, each "
    "capped at 8 KiB).",
    fallback=False,
)
SENSITIVE_FIELDS = Spec[tuple[str, ...]](
    "REQLOG_SENSITIVE_FIELDS",
    "`list[str]`",
    (),
    validation.key_names,
    "Never less masking: a lone string is one key name, a set its members, a non-string "
    "entry its text; any other type adds nothing.",
    "Extra key names to mask, added to the built-in denylist (matched case-insensitively on "
    "normalised names, anywhere inside a key).",
)
SENSITIVE_VALUE_PATTERNS = Spec[tuple[str, ...]](
    "REQLOG_SENSITIVE_VALUE_PATTERNS",
    "`list[str]` (regexes)",
    (),
    validation.value_patterns,
    "Never less masking: a lone string is one pattern, a set its members, a compiled "
    "pattern its pattern, any other entry its literal text; a pattern that does not "
    "compile is left out.",
    "Extra value patterns to mask wherever they appear, added to the built-in bearer-token, "
    "JWT and card-number detectors.",
)
REDACT_CALLBACK = Spec[str | None](
    "REQLOG_REDACT_CALLBACK",
    "`str` (dotted path) or `None`",
    None,
    validation.dotted_callable,
    "`None`: built-in masking only, as when the callback raises.",
    "A function that receives the event's field dict after built-in masking and returns it, "
    "for custom redaction or enrichment.",
)
TRUSTED_PROXIES = Spec[tuple[str, ...]](
    "REQLOG_TRUSTED_PROXIES",
    "`list[str]` (IPs/CIDRs, v4 and v6)",
    (),
    validation.proxies,
    "`[]` if the value or any entry is invalid: no proxy is trusted.",
    "The proxies whose X-Forwarded-For you trust.",
)
REQUEST_ID_HEADER = Spec[str](
    "REQLOG_REQUEST_ID_HEADER",
    "`str` (a header name)",
    "X-Request-ID",
    validation.header_name,
    "The default.",
    "Header read for an inbound request ID and used to echo it in the response.",
)
SKIP_PATHS = Spec[tuple[str, ...]](
    "REQLOG_SKIP_PATHS",
    "`list[str]` (regexes)",
    (),
    validation.skip_paths,
    "Not a list (a lone string included): `[]`, nothing is skipped. An entry that "
    "does not compile is left out.",
    "Paths never logged, matched with `re.search` against `request.path_info`, e.g. "
    '`[r"^/healthz$", r"^/static/"]`.',
)
SAMPLE_RATE = Spec[float](
    "REQLOG_SAMPLE_RATE",
    "`float`, 0.0 to 1.0",
    1.0,
    validation.sample_rate,
    "The default: every request is kept.",
    "Share of *successful* requests kept.",
)
SLOW_REQUEST_MS = Spec[int](
    "REQLOG_SLOW_REQUEST_MS",
    "`int` >= 1",
    1000,
    validation.milliseconds,
    "The default.",
    "Requests at least this slow are flagged `reqlog.slow` and are never sampled out.",
)
CAPTURE_DB = Spec[bool](
    "REQLOG_CAPTURE_DB",
    "`bool`",
    False,
    validation.boolean,
    "`False`: no query is counted.",
    "Count each request's database queries and time them (`reqlog.db.*`), on every "
    "database in `DATABASES`.",
    fallback=False,
)
CAPTURE_DB_SQL = Spec[bool](
    "REQLOG_CAPTURE_DB_SQL",
    "`bool`",
    False,
    validation.boolean,
    "`False`, the stricter choice: no SQL text is kept.",
    "With `REQLOG_CAPTURE_DB`, also keep the SQL text of each request's slowest statement "
    "(`reqlog.db.slowest_statement`), its literals masked.",
    fallback=False,
)

SPECS: tuple[Spec[Any], ...] = (
    ENABLED,
    MAX_BODY_BYTES,
    CAPTURE_REQUEST_BODY,
    CAPTURE_RESPONSE_BODY,
    CAPTURE_HEADERS,
    SENSITIVE_FIELDS,
    SENSITIVE_VALUE_PATTERNS,
    REDACT_CALLBACK,
    TRUSTED_PROXIES,
    REQUEST_ID_HEADER,
    SKIP_PATHS,
    SAMPLE_RATE,
    SLOW_REQUEST_MS,
    CAPTURE_DB,
    CAPTURE_DB_SQL,
)

# Read only by the management commands (conf.py's elasticsearch_* and
# kibana_url properties, with environment-variable fallbacks); listed so that
# they are not reported as misspelt.
COMMAND_SETTINGS = (
    "REQLOG_ELASTICSEARCH_URL",
    "REQLOG_ELASTICSEARCH_USERNAME",
    "REQLOG_ELASTICSEARCH_PASSWORD",
    "REQLOG_ELASTICSEARCH_API_KEY",
    "REQLOG_ELASTICSEARCH_CA_CERTS",
    "REQLOG_ELASTICSEARCH_INDEX",
    "REQLOG_ELASTICSEARCH_NAMESPACE",
    "REQLOG_ELASTICSEARCH_MODE",
    "REQLOG_ELASTICSEARCH_RETENTION_DAYS",
    "REQLOG_KIBANA_URL",
)

KNOWN_NAMES = frozenset([spec.name for spec in SPECS] + list(COMMAND_SETTINGS))
