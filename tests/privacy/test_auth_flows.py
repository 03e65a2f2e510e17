"""Secrets in URL paths and in auth flows (Django's auth views, django-allauth).

Route parameters with sensitive names are masked in the path, found through
the resolved route; ``code``, ``key``, ``nonce``, ``otp``, ``refresh`` and
``state`` are masked as whole key names in bodies and query strings.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from hypothesis import given, settings
from hypothesis import strategies as st

from django_reqlog.masking import is_sensitive_key
from django_reqlog.request_fields import mask_route_params

pytestmark = pytest.mark.django_db

KEY = "1-dj2ggp-7556d5e4c1a0b2f9e8d7c6b5a4f3e2d1"


def _line_and_doc(capture: Any) -> tuple[str, dict[str, Any]]:
    (line,) = capture.ecs_lines()
    (logstash,) = capture.logstash_lines()
    return line + logstash, json.loads(line)


def test_password_reset_confirm_link(capture: Any) -> None:
    """Django's own PasswordResetConfirmView, with a valid token."""
    user = User.objects.create_user("resetme", password="pw")
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    response = Client().get(f"/reset/{uidb64}/{token}/")
    assert response.status_code == 302  # the view moves the token into the session
    text, doc = _line_and_doc(capture)
    assert token not in text
    assert doc["url"]["path"] == "/reset/[REDACTED]/[REDACTED]/"
    assert doc["url"]["original"] == "/reset/[REDACTED]/[REDACTED]/"
    assert doc["message"] == "GET /reset/[REDACTED]/[REDACTED]/ 302"
    assert doc["reqlog"]["route"] == "reset/<uidb64>/<token>/"


@pytest.mark.parametrize(
    ("url", "secret", "expected"),
    [
        (
            f"/accounts/password/reset/key/{KEY}/",
            KEY[2:],
            "/accounts/password/reset/key/[REDACTED]-[REDACTED]/",
        ),
        (
            "/accounts/confirm-email/fiiqwlcfjx8pmmvbhz2y/",
            "fiiqwlcfjx8pmmvbhz2y",
            "/accounts/confirm-email/[REDACTED]/",
        ),
        ("/api/v2/signed/s1gn4tur3-value/42/", "s1gn4tur3-value", "/api/v2/signed/[REDACTED]/42/"),
    ],
    ids=["allauth reset key (re_path)", "allauth confirm-email", "include(): re_path + path"],
)
def test_secret_route_parameters_are_masked(
    capture: Any, url: str, secret: str, expected: str
) -> None:
    assert Client().get(url).status_code == 200
    text, doc = _line_and_doc(capture)
    assert doc["url"]["path"] == expected
    assert secret not in text


def test_oauth_callback_code_and_state(capture: Any) -> None:
    Client().get("/accounts/google/login/callback/?code=4/0AX4XfWh-oauth-code&state=Xq3vB9zz")
    text, doc = _line_and_doc(capture)
    assert doc["url"]["query"] == "code=[REDACTED]&state=[REDACTED]"
    assert "oauth-code" not in text and "Xq3vB9zz" not in text


@pytest.mark.parametrize(
    "payload",
    [
        {"key": "fiiqwlcfjx8pmmvbhz2y"},
        {"code": "PGVF-QKRS"},
        {"refresh": "opaque-refresh-7f3a9c"},
        {"nonce": "n-0S6_WzA2Mj"},
        {"otp": "492817"},
        {"state": "af0ifjsldkj"},
    ],
    ids=lambda p: next(iter(p)),
)
def test_auth_flow_body_keys(capture: Any, payload: dict[str, str]) -> None:
    Client().post("/echo/", data=json.dumps(payload), content_type="application/json")
    text, doc = _line_and_doc(capture)
    (name,) = payload
    assert json.loads(doc["http"]["request"]["body"]["content"]) == {name: "[REDACTED]"}
    assert payload[name] not in text


@pytest.mark.parametrize(
    ("key", "masked"),
    [
        ("code", True),
        ("Code", True),
        ("KEY", True),
        ("refresh", True),
        ("refresh_token", True),
        ("state", True),
        ("country_code", False),
        ("keyboard", False),
        ("state_id", False),
        ("zip_code", False),
        ("monkey", False),
    ],
)
def test_short_names_are_whole_key_names_only(key: str, masked: bool) -> None:
    assert is_sensitive_key(key) is masked


def test_non_secret_route_parameters_stay(capture: Any) -> None:
    Client().get("/hello/bob/")
    assert capture.only()["url"]["path"] == "/hello/bob/"


def test_a_literal_like_the_secret_is_kept() -> None:
    # The route's literal "key/" is not the parameter: only the parameter goes.
    assert mask_route_params("/key/key/", "key/<key>/", (("key", "key"),)) == "/key/[REDACTED]/"


def test_a_route_that_does_not_line_up_still_masks_the_value() -> None:
    masked = mask_route_params("/elsewhere/t0k3n/", "other/<token>/", (("token", "t0k3n"),))
    assert masked == "/elsewhere/[REDACTED]/"


SEGMENT = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
    min_size=1,
    max_size=40,
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(uid=SEGMENT, token=SEGMENT, prefix=SEGMENT)
def test_reset_links_never_keep_the_token(uid: str, token: str, prefix: str) -> None:
    route = f"{prefix}/reset/<uidb64>/<token>/"
    path = f"/{prefix}/reset/{uid}/{token}/"
    masked = mask_route_params(path, route, (("uidb64", uid), ("token", token)))
    assert masked == f"/{prefix}/reset/[REDACTED]/[REDACTED]/"
