"""Non-blocking shipper handlers with a bounded disk spool, and a file handler.

The shippers' ``emit()`` only queues; a worker thread per handler (and per
process) formats, batches, sends, spools through outages and replays in order
afterwards. ``JSONLinesFileHandler`` writes JSON lines to a file that several
worker processes share, for Filebeat or Elastic Agent to ship.
"""

from __future__ import annotations

from .base import ShipperHandler, default_spool_root, shipper_handlers
from .elasticsearch import ElasticsearchHandler
from .files import JSONLinesFileHandler
from .kafka import KafkaHandler
from .logstash import LogstashHandler
from .metrics import METRIC_KEYS, ShipperMetrics

__all__ = [
    "METRIC_KEYS",
    "ElasticsearchHandler",
    "JSONLinesFileHandler",
    "KafkaHandler",
    "LogstashHandler",
    "ShipperHandler",
    "ShipperMetrics",
    "default_spool_root",
    "shipper_handlers",
]
