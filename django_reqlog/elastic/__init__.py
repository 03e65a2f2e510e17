"""The Elasticsearch and Kibana operations kit behind ``reqlog_setup``,
``reqlog_check`` and ``reqlog_report``.

The request-logging core never imports this package; ``ElasticsearchHandler``
only borrows its client factory (``client.make_client``). Modules here import
Django only where a command needs it (``cli``), so ``kibana`` and ``client``
also serve the compose stack's setup script.
"""
