"""``manage.py reqlog_setup``: install the index template, ILM policy and data stream.

A thin wrapper: the options and the work are in ``django_reqlog.elastic.cli.setup``.
"""

from __future__ import annotations

from django_reqlog.elastic.cli import setup
from django_reqlog.elastic.cli.console import command_class

Command = command_class(setup.HELP, setup.add_arguments, setup.main)
