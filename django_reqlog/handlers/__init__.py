"""Non-blocking shipper handlers with a bounded disk spool.

``emit()`` only queues; a worker thread per handler (and per process) formats,
batches, sends, spools through outages and replays in order afterwards.
"""

from __future__ import annotations

from .base import ShipperHandler, default_spool_root, shipper_handlers
from .elasticsearch import ElasticsearchHandler
from .kafka import KafkaHandler
from .logstash import LogstashHandler
from .metrics import METRIC_KEYS, ShipperMetrics

__all__ = [
    "METRIC_KEYS",
    "ElasticsearchHandler",
    "KafkaHandler",
    "LogstashHandler",
    "ShipperHandler",
    "ShipperMetrics",
    "default_spool_root",
    "shipper_handlers",
]
