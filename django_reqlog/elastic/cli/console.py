"""Run a kit command's ``main`` from a Django management command."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_reqlog.elastic.errors import ElasticError


@dataclass(frozen=True)
class Console:
    """Where a command writes: results, warnings, and how it marks success."""

    write: Callable[[str], Any]
    warn: Callable[[str], Any]
    success: Callable[[str], str] = str


Main = Callable[[Mapping[str, Any], Console], None]


def run_command(command: BaseCommand, main: Main, options: Mapping[str, Any]) -> None:
    """Run ``main``; an :class:`ElasticError` becomes a one-line ``CommandError`` (exit 1)."""
    console = Console(command.stdout.write, command.stderr.write, command.style.SUCCESS)
    try:
        main(options, console)
    except ElasticError as exc:
        raise CommandError(str(exc)) from exc


def command_class(
    help_text: str, add_arguments: Callable[[CommandParser], None], main: Main
) -> type[BaseCommand]:
    """The ``Command`` class of a management command that runs ``main``."""

    class Command(BaseCommand):
        help = help_text

        def add_arguments(self, parser: CommandParser) -> None:
            add_arguments(parser)

        def handle(self, *args: Any, **options: Any) -> None:
            run_command(self, main, options)

    return Command
