"""The kit's resources: packaged, found, and kept in one place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from django_reqlog.elastic import resource_files

REPO = Path(__file__).resolve().parents[2]


PACKAGED = resource_files.ELASTICSEARCH_DIR
ELK = REPO / "elk"


@pytest.mark.parametrize("name", sorted(p.name for p in PACKAGED.glob("*.json")))
def test_elk_holds_no_copy_of_the_packaged_resource(name: str) -> None:
    # One home: the package's file is the only one with these bytes in elk/.
    packaged = (PACKAGED / name).read_bytes()
    assert isinstance(json.loads(packaged), dict)
    assert not (ELK / "elasticsearch" / name).exists()
    copies = [path for path in ELK.rglob("*") if path.is_file() and path.read_bytes() == packaged]
    assert copies == []


def test_default_files_are_the_stack_objects() -> None:
    files = resource_files.kibana_ndjson_files()
    assert files == [resource_files.KIBANA_OBJECTS]
    for path in files:
        assert path.suffix == ".ndjson"
        for line in path.read_text().splitlines():
            assert isinstance(json.loads(line), dict)
