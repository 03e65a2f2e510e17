"""The commands' connection: client options, the Kibana header, what is printed."""

from __future__ import annotations

import base64

import pytest

from django_reqlog.elastic.connection import Connection


@pytest.mark.parametrize(
    ("conn", "options"),
    [
        (Connection("https://h:9200"), {"request_timeout": 10}),
        (
            Connection("https://h:9200", "u", "p", ca_certs="/ca.pem"),
            {"request_timeout": 10, "basic_auth": ("u", "p"), "ca_certs": "/ca.pem"},
        ),
        # The client refuses both; the API key is the narrower grant.
        (Connection("https://h:9200", "u", "p", "k"), {"request_timeout": 10, "api_key": "k"}),
    ],
)
def test_client_options(conn: Connection, options: dict[str, object]) -> None:
    assert conn.client_options() == options


def test_the_same_credentials_as_a_kibana_header() -> None:
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    assert Connection("h").authorization() is None
    assert Connection("h", "elastic", "pw").authorization() == f"Basic {b64('elastic:pw')}"
    assert Connection("h", "u", "p", "ZW5jb2RlZA==").authorization() == "ApiKey ZW5jb2RlZA=="
    assert Connection("h", api_key=("id1", "key1")).authorization() == f"ApiKey {b64('id1:key1')}"


def test_describe_names_the_user_but_never_the_password() -> None:
    conn = Connection("http://alice:s3cret@es.example:9200", source="REQLOG_ELASTICSEARCH_URL")
    assert conn.describe() == "http://es.example:9200 (user alice, from REQLOG_ELASTICSEARCH_URL)"
    assert Connection("h:9200", api_key="k").describe() == "h:9200 (api key, from command line)"
