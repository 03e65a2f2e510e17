"""Turn a stream of documents into a :class:`Summary`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django_reqlog.elastic.report.events import RequestEvent, event_from_doc
from django_reqlog.elastic.report.fields import lookup, parse_timestamp
from django_reqlog.elastic.report.files import BadLines
from django_reqlog.elastic.report.summary import Summary
from django_reqlog.elastic.report.tallies import TALLIES, MaskingTally, ReportOptions


def summarise(
    documents: Iterable[tuple[str, Mapping[str, Any]]],
    *,
    sources: Sequence[str],
    since: dt.datetime | None = None,
    secrets: Sequence[str] = (),
    top: int = 5,
    bucket: dt.timedelta = dt.timedelta(minutes=1),
    bad: BadLines | None = None,
) -> Summary:
    """Consume ``(raw_text, document)`` pairs and compute the report."""
    options = ReportOptions(top=top, bucket_seconds=max(bucket.total_seconds(), 1.0))
    summary = Summary(sources=list(sources), bucket_seconds=options.bucket_seconds)
    tallies = [make(options) for make in TALLIES]
    masking = MaskingTally(secrets)
    for raw, doc in documents:
        event = event_from_doc(doc)
        if not _in_window(event, doc, since):
            continue
        masking.add_text(raw)
        if event is None:
            summary.other_documents += 1
            continue
        summary.total_requests += 1
        for tally in tallies:
            tally.add(event)
    for tally in tallies:
        tally.fill(summary)
    masking.fill(summary)
    bad = bad if bad is not None else BadLines()
    summary.bad_lines = bad.count
    summary.bad_line_examples = list(bad.first)
    summary.since = since.isoformat() if since else None
    return summary


def _in_window(
    event: RequestEvent | None, doc: Mapping[str, Any], since: dt.datetime | None
) -> bool:
    """False only for documents known to be older than ``since``."""
    if since is None:
        return True
    stamp = event.timestamp if event else parse_timestamp(lookup(doc, "@timestamp"))
    return stamp is None or stamp >= since
