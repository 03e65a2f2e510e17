"""Names of what the kit creates."""

from __future__ import annotations

import pytest

from django_reqlog.elastic import names
from django_reqlog.elastic.errors import ElasticError


def test_namespace_rules() -> None:
    assert names.data_stream_name("prod") == "logs-django.reqlog-prod"
    for bad in ("Prod", "a-b", ""):
        with pytest.raises(ElasticError):
            names.data_stream_name(bad)
