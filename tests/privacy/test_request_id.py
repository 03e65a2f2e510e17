"""Guarantee 5: inbound request IDs are echoed only when well-formed.

A valid ID (1-128 characters from ``[A-Za-z0-9._-]``) comes back unchanged in
the response header and the event. Anything else is replaced by a fresh
UUID and never reflected, in whole or in part.
"""

from __future__ import annotations

import json
import re

import pytest
from django.test import RequestFactory, override_settings
from hypothesis import given
from hypothesis import strategies as st

from django_reqlog.middleware import RequestLogMiddleware
from tests.helpers.privacy import (
    FIGURES,
    collecting,
    hsettings,
)
from tests.views import plain_ok as _view

VALID = re.compile(r"[A-Za-z0-9._-]{1,128}")
GENERATED = re.compile(r"[0-9a-f]{32}")


def roundtrip(meta_key: str, header: str, incoming: str) -> tuple[str, str, str]:
    """(response header, ECS http.request.id, Logstash request_id)."""
    with collecting() as collector:
        response = RequestLogMiddleware(_view)(RequestFactory().get("/", **{meta_key: incoming}))
        ecs, logstash = (json.loads(line) for line in collector.json_lines())
    return response[header], ecs["http"]["request"]["id"], logstash["request_id"]


valid_ids = st.from_regex(VALID, fullmatch=True)
invalid_ids = (
    st.text(max_size=200).filter(lambda s: not VALID.fullmatch(s))
    | st.from_regex(r"[A-Za-z0-9._-]{129,300}", fullmatch=True)
    | st.builds(
        lambda ok, bad, at: ok[:at] + bad + ok[at:],
        valid_ids,
        st.sampled_from(
            ["\r\n", "\n", " ", "\x00", "\x1b[31m", "<", '"', "/", "é", "\u2028", ",", ";", "%"]
        ),
        st.integers(0, 128),
    )
)


@pytest.mark.parametrize(
    ("setting", "meta_key", "header"),
    [
        (None, "HTTP_X_REQUEST_ID", "X-Request-ID"),
        ("X-Correlation-ID", "HTTP_X_CORRELATION_ID", "X-Correlation-ID"),
    ],
)
def test_valid_ids_are_echoed_unchanged(setting, meta_key, header):
    @hsettings(250)
    @given(incoming=valid_ids)
    def run(incoming: str) -> None:
        FIGURES["request ids: valid, echoed"] += 1
        assert roundtrip(meta_key, header, incoming) == (incoming, incoming, incoming)

    overrides = {"REQLOG_REQUEST_ID_HEADER": setting} if setting else {}
    with override_settings(**overrides):
        run()


@pytest.mark.parametrize(
    ("setting", "meta_key", "header"),
    [
        (None, "HTTP_X_REQUEST_ID", "X-Request-ID"),
        ("X-Correlation-ID", "HTTP_X_CORRELATION_ID", "X-Correlation-ID"),
    ],
)
def test_invalid_ids_are_replaced_never_reflected(setting, meta_key, header):
    @hsettings(250)
    @given(incoming=invalid_ids)
    def run(incoming: str) -> None:
        FIGURES["request ids: invalid, replaced"] += 1
        echoed, ecs_id, logstash_id = roundtrip(meta_key, header, incoming)
        assert echoed == ecs_id == logstash_id
        assert GENERATED.fullmatch(echoed)
        if len(incoming) > 1:
            assert incoming not in echoed

    overrides = {"REQLOG_REQUEST_ID_HEADER": setting} if setting else {}
    with override_settings(**overrides):
        run()


def test_each_request_without_an_id_gets_a_distinct_one():
    seen = {roundtrip("HTTP_X_OTHER", "X-Request-ID", "x")[0] for _ in range(200)}
    assert len(seen) == 200
    assert all(GENERATED.fullmatch(value) for value in seen)
