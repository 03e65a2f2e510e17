"""The real Redis of the test bed (tests/testbed/redisnode.py).

``redisnode.py run --`` starts Debian's redis-server and exports
``REQLOG_TEST_REDIS_*``. Without them the tests that need it are skipped,
except under ``REQLOG_TEST_REDIS_REQUIRED=1`` (set by redisnode.py, so by
``make test``): then a missing server is a failure, never a silent skip.
"""

from __future__ import annotations

import os

import pytest


def redis_url() -> str:
    url = os.environ.get("REQLOG_TEST_REDIS_URL")
    if not url:
        reason = "no Redis: run under `python tests/testbed/redisnode.py run --`"
        if os.environ.get("REQLOG_TEST_REDIS_REQUIRED") == "1":
            pytest.fail(f"REQLOG_TEST_REDIS_REQUIRED=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return url
