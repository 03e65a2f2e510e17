"""``manage.py reqlog_report``: a terminal report built from captured request events.

A thin wrapper: the options and the work are in ``django_reqlog.elastic.cli.report``.
"""

from __future__ import annotations

from django_reqlog.elastic.cli import report
from django_reqlog.elastic.cli.console import command_class

Command = command_class(report.HELP, report.add_arguments, report.main)
