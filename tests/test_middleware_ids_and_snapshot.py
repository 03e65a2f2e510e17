"""Request/event IDs and the middleware's settings snapshot."""

from __future__ import annotations

import os
import re
import uuid

import pytest
from django.test import RequestFactory, override_settings

from django_reqlog import middleware
from django_reqlog.middleware import RequestLogMiddleware, new_id
from tests.views import plain_ok as _view

UUID4_HEX = re.compile(r"[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}")


def test_ids_are_uuid4_hex_and_unique():
    ids = [new_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    for value in ids:
        assert UUID4_HEX.fullmatch(value), value
        assert uuid.UUID(hex=value).version == 4


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_never_reuses_the_parents_ids():
    while not middleware._ids:  # make sure the parent holds a batch
        new_id()
    parent_pending = set(middleware._ids)
    assert parent_pending
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it would hand out next
        try:
            os.write(write, ",".join([str(len(middleware._ids)), new_id()]).encode())
        finally:
            os._exit(0)
    os.close(write)
    pending, child_id = os.read(read, 1024).decode().split(",")
    os.waitpid(pid, 0)
    assert pending == "0"
    assert child_id not in parent_pending


def test_settings_snapshot_follows_override_settings(capture):
    mw = RequestLogMiddleware(_view)
    mw(RequestFactory().get("/a/"))
    with override_settings(REQLOG_REQUEST_ID_HEADER="X-Correlation-ID"):
        response = mw(RequestFactory().get("/b/"))
        assert "X-Correlation-ID" in response
    with override_settings(REQLOG_ENABLED=False):
        mw(RequestFactory().get("/c/"))
    response = mw(RequestFactory().get("/d/"))
    assert "X-Request-ID" in response
    assert [d["url"]["path"] for d in capture.ecs_docs()] == ["/a/", "/b/", "/d/"]
