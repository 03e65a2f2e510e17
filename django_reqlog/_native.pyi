"""Type stub for the optional compiled core (native/, Rust with PyO3).

Every method returns None to decline: the caller then masks with the
reference implementation in django_reqlog/masking.py, or formats with the
Python formatters in django_reqlog/formatters.py.
"""

import logging
import re
from collections.abc import Callable, Sequence, Set
from typing import Any

REDACTED: str

class Masker:
    def __init__(
        self,
        names: tuple[list[str], list[str], list[str], list[str]],
        patterns: list[tuple[str, int, re.Pattern[str]]],
    ) -> None: ...
    def pattern_engines(self) -> list[str]: ...
    def is_sensitive_key(self, key: str) -> bool | None: ...
    def scrub_text(self, text: str) -> str | None: ...
    def scrub_free_text(self, text: str) -> str | None: ...
    def scrub_value(self, text: str) -> str | None: ...
    def mask_json_text(self, text: str, also_sensitive: Set[str] | None = None) -> str | None: ...
    def mask_pairs(
        self, pairs: list[tuple[str, str]], also_sensitive: Set[str] | None = None
    ) -> list[tuple[str, str]] | None: ...

def translate_pattern(pattern: str, flags: int) -> tuple[str, bool] | None: ...

# (dotted path as a list, request field or None, form, fixed value as JSON
# or None, the field it goes only with or None), one per table entry.
PlacementTable = list[tuple[list[str], str | None, str, str | None, str | None]]

class Events:
    def __init__(
        self,
        masker: Masker,
        trusted: Sequence[tuple[int, int, int]],
        ecs: PlacementTable,
        logstash: PlacementTable,
        logstash_reserved: Sequence[str],
        route_masker: Callable[[str, str, tuple[tuple[str, str], ...]], str],
        message_type: type,
        facts_type: type,
        allowed: frozenset[str],
    ) -> None: ...
    def request_fields(self, facts: Any) -> dict[str, Any] | None: ...
    def ecs(
        self,
        record: logging.LogRecord,
        hostname: str,
        service_name: str | None,
        extra_namespace: bool,
    ) -> str | None: ...
    def logstash(
        self, record: logging.LogRecord, host: str, tags: list[str], message_type: str
    ) -> str | None: ...
