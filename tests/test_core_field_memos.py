"""The masked forms of short, repeated values (path, user agent, query, header
values, client addresses) are memoised: a memo must never outlive the
settings it was made under, and long values must be masked all the same."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from django_reqlog.event import RequestFacts, request_fields
from django_reqlog.masking import REDACTED


def _fields(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "event_id": "e" * 32,
        "request_id": "r" * 32,
        "started_at": 0.0,
        "method": "GET",
        "scheme": "https",
        "host": "api.example.com",
        "path": "/orders/ACME-1234/",
        "query_string": "ref=ACME-1234",
        "http_version": "HTTP/1.1",
        "remote_addr": "10.0.0.7",
        "forwarded_for": "203.0.113.9",
        "user_agent": "client ACME-1234",
        "referer": "",
        "content_type": "",
        "content_length": None,
        "content_encoding": "",
        "headers": [("x-ticket", "ACME-1234"), ("x-order-note", "ok")],
    }
    values.update(overrides)
    return request_fields(RequestFacts(**values))


def _shown(fields: dict[str, Any]) -> list[Any]:
    return [
        fields["path"],
        fields["query"],
        fields["user_agent"],
        fields["headers"]["x-ticket"],
    ]


_PLAIN = ["/orders/ACME-1234/", "ref=ACME-1234", "client ACME-1234", "ACME-1234"]
_MASKED = [f"/orders/{REDACTED}/", f"ref={REDACTED}", f"client {REDACTED}", REDACTED]


@pytest.mark.parametrize("first_masked", [False, True])
def test_a_new_value_pattern_applies_to_values_seen_before(first_masked):
    patterns = [r"ACME-\d{4}"]
    first = override_settings(REQLOG_SENSITIVE_VALUE_PATTERNS=patterns if first_masked else [])
    second = override_settings(REQLOG_SENSITIVE_VALUE_PATTERNS=[] if first_masked else patterns)
    with first:
        assert _shown(_fields()) == (_MASKED if first_masked else _PLAIN)
    with second:
        assert _shown(_fields()) == (_PLAIN if first_masked else _MASKED)


def test_a_new_sensitive_field_applies_to_header_values_seen_before():
    with override_settings(REQLOG_SENSITIVE_FIELDS=[]):
        assert _fields()["headers"]["x-order-note"] == "ok"
    with override_settings(REQLOG_SENSITIVE_FIELDS=["order_note"]):
        assert _fields()["headers"]["x-order-note"] == REDACTED


def test_trusting_a_proxy_applies_to_addresses_seen_before():
    with override_settings(REQLOG_TRUSTED_PROXIES=[]):
        assert _fields()["client_ip"] == "10.0.0.7"
    with override_settings(REQLOG_TRUSTED_PROXIES=["10.0.0.0/8"]):
        assert _fields()["client_ip"] == "203.0.113.9"
    with override_settings(REQLOG_TRUSTED_PROXIES=[]):
        assert _fields()["client_ip"] == "10.0.0.7"


@pytest.mark.parametrize("filler", [0, 300])  # memoised, and too long to be kept
@override_settings(REQLOG_SENSITIVE_VALUE_PATTERNS=[r"ACME-\d{4}"])
def test_short_and_long_values_are_masked_alike(filler):
    pad = "x" * filler
    fields = _fields(
        path=f"/orders/ACME-1234/{pad}",
        query_string=f"ref=ACME-1234&pad={pad}",
        user_agent=f"client ACME-1234 {pad}",
        headers=[("x-ticket", f"ACME-1234 {pad}")],
        forwarded_for=", ".join(["198.51.100.1"] * (1 + filler // 10)),
    )
    assert fields["path"] == f"/orders/{REDACTED}/{pad}"
    assert fields["query"] == f"ref={REDACTED}&pad={pad}"
    assert fields["user_agent"] == f"client {REDACTED} {pad}"
    assert fields["headers"]["x-ticket"] == f"{REDACTED} {pad}"
    assert fields["client_ip"] == "10.0.0.7"
    assert fields["proxy_chain"][-1] == "10.0.0.7"


def test_each_event_gets_its_own_proxy_chain():
    first = _fields()
    first["proxy_chain"].append("changed by a redact callback")
    assert _fields()["proxy_chain"] == ["203.0.113.9", "10.0.0.7"]


def test_long_values_are_not_kept():
    from django_reqlog import event

    def kept() -> dict[str, int]:
        return {name: cached.cache_info().currsize for name, cached in event._MEMOS.items()}

    event._clear_memos()
    pad = "x" * 300
    _fields(
        path=f"/{pad}",
        query_string=f"q={pad}",
        user_agent=pad,
        headers=[("x-long", pad), (f"x-{pad}", "short")],
        forwarded_for=", ".join(["198.51.100.1"] * 30),
    )
    assert kept() == {"_masked_text": 0, "_mask_query": 0, "_header_value": 0, "_addresses": 0}
    _fields()
    assert kept() == {"_masked_text": 2, "_mask_query": 1, "_header_value": 2, "_addresses": 1}
