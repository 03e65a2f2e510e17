"""The kit's JSON bodies and Kibana saved objects, shipped as package data.

``resources/`` next to this module is their only home: ``reqlog_setup``, the
compose stack's setup service and ``elk/kibana/build_saved_objects.py`` all
read or write these files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESOURCES = Path(__file__).resolve().parent / "resources"
ELASTICSEARCH_DIR = RESOURCES / "elasticsearch"
KIBANA_DIR = RESOURCES / "kibana"
KIBANA_OBJECTS = KIBANA_DIR / "reqlog.ndjson"


def load_resource(name: str) -> dict[str, Any]:
    """A fresh copy of one body of ``resources/elasticsearch/`` (callers may edit it)."""
    data: dict[str, Any] = json.loads((ELASTICSEARCH_DIR / name).read_text(encoding="utf-8"))
    return data


def kibana_ndjson_files(extra: Sequence[str] = ()) -> list[Path]:
    """The files ``--kibana-file`` names, else the packaged saved objects."""
    if extra:
        return [Path(p) for p in extra]
    return sorted(KIBANA_DIR.glob("*.ndjson"))
