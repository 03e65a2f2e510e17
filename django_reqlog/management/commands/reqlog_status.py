"""``manage.py reqlog_status``: shipper metrics and spool backlog.

Shows every django_reqlog shipper handler configured in ``LOGGING``: this
process's counters and, from the spool directory, every process that shipped
through it (live web workers or dead ones whose spool waits for replay).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_reqlog.handlers import METRIC_KEYS, shipper_handlers
from django_reqlog.handlers.status import directory_status


class Command(BaseCommand):
    help = "Show django_reqlog shipper metrics and spool backlog."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print one JSON document.")
        parser.add_argument(
            "--spool-dir",
            action="append",
            default=[],
            help="Also inspect this spool directory (repeatable).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report: list[dict[str, Any]] = []
        seen: set[str] = set()
        for handler in shipper_handlers():
            entry = handler.status()
            directory = entry["spool_dir"]
            entry["processes"] = directory_status(directory) if directory else []
            if directory:
                seen.add(directory)
            report.append(entry)
        for directory in options["spool_dir"]:
            if directory not in seen:
                report.append(
                    {
                        "handler": None,
                        "spool_dir": directory,
                        "processes": directory_status(directory),
                    }
                )
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2, default=str))
            return
        if not report:
            self.stdout.write("No django_reqlog shipper handlers are configured in LOGGING.")
            return
        for entry in report:
            self._print(entry)

    def _print(self, entry: dict[str, Any]) -> None:
        title = entry.get("handler") or "(spool directory)"
        self.stdout.write(self.style.MIGRATE_HEADING(f"{title} -> {entry.get('target', '')}"))
        self.stdout.write(f"  spool dir: {entry.get('spool_dir') or '(disabled)'}")
        metrics = entry.get("metrics")
        if metrics:
            figures = "  ".join(f"{k}={metrics[k]}" for k in METRIC_KEYS)
            self.stdout.write(f"  this process (pid {entry['pid']}): {figures}")
            self._print_drops(metrics)
        for proc in entry["processes"]:
            self._print_process(proc)

    def _print_drops(self, metrics: dict[str, Any]) -> None:
        reasons = metrics.get("dropped_by_reason") or {}
        if reasons:
            why = ", ".join(f"{count} {reason}" for reason, count in reasons.items())
            self.stdout.write(self.style.WARNING(f"    dropped: {why}"))

    def _print_process(self, proc: dict[str, Any]) -> None:
        if proc.get("damaged"):
            line = f"  {proc['file']} (damaged, moved aside, not replayed): {proc['bytes']} bytes"
            self.stdout.write(self.style.ERROR(line))
            return
        state = "alive" if proc["alive"] else "dead, waiting for replay"
        line = f"  pid {proc['pid']} ({state}): backlog={proc['backlog']} events"
        line += f" / {proc['backlog_bytes']} bytes, {proc.get('bytes', 0)} bytes on disk"
        metrics = proc.get("metrics") or {}
        if metrics:
            line += "  " + "  ".join(f"{k}={metrics.get(k)}" for k in METRIC_KEYS)
        if metrics.get("dropped") or metrics.get("failed"):
            self.stdout.write(self.style.WARNING(line))
            self._print_drops(metrics)
        else:
            self.stdout.write(line)
