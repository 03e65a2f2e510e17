"""The engine behind ``manage.py reqlog_report``.

It reads ECS JSON lines (``ECSFormatter``), python-logstash v1 lines
(``LogstashFormatter``) or documents from Elasticsearch and computes status
classes, the error rate over time, latency percentiles per route, top users
and client IPs, and a masking proof. It knows nothing about Django, so it is
tested on hand-made lines.

- ``fields``: reading dotted ECS paths and timestamps from a document;
- ``windows``: ``--since`` and ``--bucket`` values;
- ``events``: the facts of one request event, from either line format;
- ``files`` and ``es_reader``: the two sources, with ``progress`` on stderr;
- ``summary``: what the report holds; ``tallies`` and ``summarise`` fill it;
- ``render``: the text form.
"""
