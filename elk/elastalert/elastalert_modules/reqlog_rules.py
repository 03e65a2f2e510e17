"""ElastAlert2 rule types for django-reqlog events.

ElastAlert2 imports this as ``elastalert_modules.reqlog_rules`` from its
working directory (``/opt/elastalert`` in the compose stack, where the
directory is mounted). It is not part of the Python package.
"""

from __future__ import annotations

from typing import Any

from elastalert.ruletypes import PercentageMatchRule

WEIGHT_FIELD = "reqlog.sample_weight"


class WeightedPercentageMatchRule(PercentageMatchRule):
    """``percentage_match``, with each event counted as the number of
    requests it stands for (``reqlog.sample_weight``, 1 where absent).

    With ``REQLOG_SAMPLE_RATE`` below 1, successful requests are sampled and
    errors all kept, so a share of documents overstates the share of
    requests that failed; a share of weights does not. ``weight_field`` in
    the rule file names another field.
    """

    def generate_aggregation_query(self) -> dict[str, Any]:
        query: dict[str, Any] = super().generate_aggregation_query()
        field = self.rules.get("weight_field", WEIGHT_FIELD)
        query["percentage_match_aggs"]["aggs"] = {
            "weight": {"sum": {"field": field, "missing": 1}}
        }
        return query

    def check_matches(self, timestamp: Any, query_key: Any, aggregation_data: Any) -> None:
        buckets = aggregation_data["percentage_match_aggs"]["buckets"]
        weighted = {
            name: {"doc_count": bucket["weight"]["value"]} for name, bucket in buckets.items()
        }
        super().check_matches(
            timestamp, query_key, {"percentage_match_aggs": {"buckets": weighted}}
        )
