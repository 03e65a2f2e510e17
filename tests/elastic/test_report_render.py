"""The text report."""

from __future__ import annotations

import io
import json

from django_reqlog.elastic.report.render import render_text
from django_reqlog.elastic.report.summarise import summarise
from tests.elastic.report_support import ecs_event


def test_text_report_never_prints_the_secret_and_shows_every_section() -> None:
    secret = "planted-password-123"
    docs = [ecs_event(at=s, status=500 if s > 5 else 200) for s in range(10)]
    raw_docs = [(json.dumps(d), d) for d in docs]
    raw_docs.append((f'{{"leak": "{secret}"}}', {"leak": secret}))
    summary = summarise(raw_docs, sources=["/tmp/x.json"], secrets=[secret])
    out = io.StringIO()
    render_text(summary, lambda line: out.write(line + "\n"))
    text = out.getvalue()
    assert secret not in text
    for section in (
        "Requests by status class",
        "Error rate over time",
        "Latency per route",
        "Top users",
        "Top client IPs",
        "Masking proof",
        "Sending the same events to Elasticsearch or Logstash",
        "Source: /tmp/x.json",
    ):
        assert section in text
    assert "secret #1 (20 chars): 1 plaintext hit(s)  LEAKED" in text
    assert summary.secret_hits == 1
