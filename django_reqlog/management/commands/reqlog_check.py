"""``manage.py reqlog_check``: send one event and wait until Elasticsearch can find it.

A thin wrapper: the options and the work are in ``django_reqlog.elastic.cli.check``.
"""

from __future__ import annotations

from django_reqlog.elastic.cli import check
from django_reqlog.elastic.cli.console import command_class

Command = command_class(check.HELP, check.add_arguments, check.main)
