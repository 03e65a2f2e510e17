from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.handlers import Shippers


@pytest.fixture
def shippers(tmp_path: Path) -> Iterator[Shippers]:
    """Shipper handlers made for one test, closed when it ends."""
    made = Shippers(tmp_path)
    yield made
    made.close()
