"""Generate the Kibana saved objects of the stack.

They are written to ``django_reqlog/elastic/resources/kibana/reqlog.ndjson``,
their only home: ``reqlog_setup --kibana-url`` imports them from the
installed package, and the compose stack's setup service from the same file.
Run ``python elk/kibana/build_saved_objects.py`` after editing a panel; the
NDJSON is committed so users without Python import it as is, and
tests/elastic/test_stack_kibana.py checks it matches this script.

Objects are written in the Kibana 8.x/9.x saved-objects export format: one
JSON object per line, ``coreMigrationVersion`` plus a ``typeMigrationVersion``
no newer than the oldest Kibana we support (8.19), so newer Kibanas migrate
them forward on import. Lens panels are saved by reference (type ``lens``)
and the dashboards point at them through ``references``.

Every panel reads the data view ``reqlog-data-view`` (logs-django.reqlog-*).
Durations are stored in ``event.duration`` (nanoseconds, ECS); the data view
formats that field as a duration in milliseconds, and Lens inherits the
format, so no runtime field (and no scripting) is needed.

Request counts are sums of ``reqlog.sample_weight``, not document counts:
with ``REQLOG_SAMPLE_RATE`` below 1 each kept successful request stands for
``1 / rate`` requests while errors and slow requests are all kept, so a plain
count would overstate the error rate. Latency percentiles are over the kept
events (Elasticsearch has no weighted percentiles); with sampling on they
lean towards slow requests, which are always kept. The same holds for the
average query time per route (``reqlog.db.duration``, nanoseconds, present
when ``REQLOG_CAPTURE_DB`` is on).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUTPUT = HERE.parents[1] / "django_reqlog" / "elastic" / "resources" / "kibana" / "reqlog.ndjson"

CORE_MIGRATION_VERSION = "8.8.0"
# Migration version each type's attributes are written in. Kibana refuses
# to import objects *newer* than it knows, and migrates older ones forward.
TYPE_MIGRATION_VERSIONS = {
    "index-pattern": "8.0.0",
    "lens": "8.9.0",
    "search": "8.0.0",
    "dashboard": "8.9.0",
}
PANEL_VERSION = "8.9.0"

DATA_VIEW_ID = "reqlog-data-view"
INDEX_PATTERN = "logs-django.reqlog-*"
LAYER = "layer1"

# KQL used by panels; the Kibana rules and ElastAlert rules use the same
# definitions (5xx = status >= 500) so numbers agree everywhere.
REQUESTS_KQL = 'event.kind : "event"'
SHIPPER_KQL = 'event.kind : "metric" and event.action : "shipper-health"'
STATUS_CLASSES = [
    ("2xx", "http.response.status_code >= 200 and http.response.status_code < 300"),
    ("3xx", "http.response.status_code >= 300 and http.response.status_code < 400"),
    ("4xx", "http.response.status_code >= 400 and http.response.status_code < 500"),
    ("5xx", "http.response.status_code >= 500"),
]
FIVE_XX_KQL = "http.response.status_code >= 500"
# Requests whose queries were counted (REQLOG_CAPTURE_DB on).
DB_KQL = f"{REQUESTS_KQL} and reqlog.db.queries >= 0"
WEIGHT = "reqlog.sample_weight"  # how many requests an event stands for


def kql(query: str) -> dict[str, str]:
    return {"query": query, "language": "kuery"}


# ---------------------------------------------------------------- columns


def col_date(field: str = "@timestamp") -> dict[str, Any]:
    return {
        "label": field,
        "dataType": "date",
        "operationType": "date_histogram",
        "sourceField": field,
        "isBucketed": True,
        "scale": "interval",
        "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
    }


def col_count(label: str, kql_filter: str | None = None) -> dict[str, Any]:
    column: dict[str, Any] = {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": "count",
        "sourceField": "___records___",
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": False},
    }
    if kql_filter:
        column["filter"] = kql(kql_filter)
    return column


def col_requests(label: str, kql_filter: str | None = None) -> dict[str, Any]:
    """Requests, counted as the sum of each event's sampling weight."""
    column = col_metric("sum", WEIGHT, label)
    column["params"]["emptyAsNull"] = False
    if kql_filter:
        column["filter"] = kql(kql_filter)
    return column


def col_metric(op: str, field: str, label: str, **params: Any) -> dict[str, Any]:
    return {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": op,
        "sourceField": field,
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": True, **params},
    }


def col_percentile(field: str, pct: int, label: str) -> dict[str, Any]:
    column = col_metric("percentile", field, label, percentile=pct)
    column["params"].pop("emptyAsNull")
    return column


def col_terms(
    field: str, label: str, size: int, order_by: str, data_type: str = "string"
) -> dict[str, Any]:
    return {
        "label": label,
        "customLabel": True,
        "dataType": data_type,
        "operationType": "terms",
        "sourceField": field,
        "isBucketed": True,
        "scale": "ordinal",
        "params": {
            "size": size,
            "orderBy": {"type": "column", "columnId": order_by},
            "orderDirection": "desc",
            "otherBucket": False,
            "missingBucket": False,
            "parentFormat": {"id": "terms"},
        },
    }


def col_filters(label: str, filters: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "label": label,
        "customLabel": True,
        "dataType": "string",
        "operationType": "filters",
        "isBucketed": True,
        "scale": "ordinal",
        "params": {"filters": [{"label": name, "input": kql(query)} for name, query in filters]},
    }


def cols_error_rate(prefix: str) -> dict[str, dict[str, Any]]:
    """A Lens formula ``requests(5xx) / requests()`` with its helper columns,
    requests being weighted by the sampling rate."""
    formula = f"sum({WEIGHT}, kql='{FIVE_XX_KQL}') / sum({WEIGHT})"
    part = "Part of 5xx rate"
    x0 = col_requests(part, FIVE_XX_KQL)
    x1 = col_requests(part)
    x2 = {
        "label": part,
        "customLabel": True,
        "dataType": "number",
        "operationType": "math",
        "isBucketed": False,
        "scale": "ratio",
        "params": {
            "tinymathAst": {
                "type": "function",
                "name": "divide",
                "args": [f"{prefix}X0", f"{prefix}X1"],
                "location": {"min": 0, "max": len(formula)},
                "text": formula,
            }
        },
        "references": [f"{prefix}X0", f"{prefix}X1"],
    }
    main = {
        "label": "5xx rate",
        "customLabel": True,
        "dataType": "number",
        "operationType": "formula",
        "isBucketed": False,
        "scale": "ratio",
        "params": {
            "formula": formula,
            "isFormulaBroken": False,
            "format": {"id": "percent", "params": {"decimals": 1}},
        },
        "references": [f"{prefix}X2"],
    }
    return {prefix: main, f"{prefix}X0": x0, f"{prefix}X1": x1, f"{prefix}X2": x2}


# ---------------------------------------------------------------- objects


def lens(  # noqa: PLR0917 (one call per panel reads best positionally)
    obj_id: str,
    title: str,
    description: str,
    vis_type: str,
    columns: dict[str, dict[str, Any]],
    visualization: dict[str, Any],
    query: str,
) -> dict[str, Any]:
    return {
        "id": obj_id,
        "type": "lens",
        "attributes": {
            "title": title,
            "description": description,
            "visualizationType": vis_type,
            "state": {
                "datasourceStates": {
                    "formBased": {
                        "layers": {
                            LAYER: {
                                "columns": columns,
                                "columnOrder": list(columns),
                                "incompleteColumns": {},
                            }
                        }
                    }
                },
                "visualization": visualization,
                "query": kql(query),
                "filters": [],
                "internalReferences": [],
                "adHocDataViews": {},
            },
        },
        "references": [
            {
                "type": "index-pattern",
                "id": DATA_VIEW_ID,
                "name": f"indexpattern-datasource-layer-{LAYER}",
            }
        ],
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "typeMigrationVersion": TYPE_MIGRATION_VERSIONS["lens"],
        "managed": False,
    }


def xy(
    series: str, x: str, accessors: list[str], split: str | None = None, legend: str = "right"
) -> dict[str, Any]:
    layer: dict[str, Any] = {
        "layerId": LAYER,
        "layerType": "data",
        "seriesType": series,
        "xAccessor": x,
        "accessors": accessors,
    }
    if split:
        layer["splitAccessor"] = split
    return {
        "legend": {"isVisible": True, "position": legend},
        "valueLabels": "hide",
        "preferredSeriesType": series,
        "fittingFunction": "Linear",
        "layers": [layer],
    }


def table(columns: list[str]) -> dict[str, Any]:
    return {
        "layerId": LAYER,
        "layerType": "data",
        "columns": [{"columnId": c, "isTransposed": False} for c in columns],
    }


def saved_search(  # noqa: PLR0917
    obj_id: str, title: str, description: str, query: str, columns: list[str], sort: list[list[str]]
) -> dict[str, Any]:
    source = {
        "query": kql(query),
        "filter": [],
        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
    }
    return {
        "id": obj_id,
        "type": "search",
        "attributes": {
            "title": title,
            "description": description,
            "columns": columns,
            "sort": sort,
            "grid": {},
            "hideChart": False,
            "isTextBasedQuery": False,
            "timeRestore": False,
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source, sort_keys=True)},
        },
        "references": [
            {
                "name": "kibanaSavedObjectMeta.searchSourceJSON.index",
                "type": "index-pattern",
                "id": DATA_VIEW_ID,
            }
        ],
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "typeMigrationVersion": TYPE_MIGRATION_VERSIONS["search"],
        "managed": False,
    }


def dashboard(
    obj_id: str,
    title: str,
    description: str,
    panels: list[tuple[dict[str, Any], int, int, int, int]],
) -> dict[str, Any]:
    """panels: (object, x, y, w, h) on Kibana's 48-column grid."""
    panels_json = []
    references = []
    for index, (obj, x, y, w, h) in enumerate(panels, start=1):
        panel_index = f"p{index}"
        panels_json.append(
            {
                "version": PANEL_VERSION,
                "type": obj["type"],
                "gridData": {"x": x, "y": y, "w": w, "h": h, "i": panel_index},
                "panelIndex": panel_index,
                "embeddableConfig": {"enhancements": {}},
                "panelRefName": f"panel_{panel_index}",
            }
        )
        references.append(
            {"name": f"{panel_index}:panel_{panel_index}", "type": obj["type"], "id": obj["id"]}
        )
    return {
        "id": obj_id,
        "type": "dashboard",
        "attributes": {
            "title": title,
            "description": description,
            "timeRestore": True,
            "timeFrom": "now-24h",
            "timeTo": "now",
            "refreshInterval": {"pause": False, "value": 60000},
            "optionsJSON": json.dumps(
                {
                    "useMargins": True,
                    "syncColors": False,
                    "syncCursor": True,
                    "syncTooltips": False,
                    "hidePanelTitles": False,
                },
                sort_keys=True,
            ),
            "panelsJSON": json.dumps(panels_json, sort_keys=True),
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": json.dumps({"query": kql(""), "filter": []}, sort_keys=True)
            },
        },
        "references": references,
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "typeMigrationVersion": TYPE_MIGRATION_VERSIONS["dashboard"],
        "managed": False,
    }


def build() -> list[dict[str, Any]]:
    data_view = {
        "id": DATA_VIEW_ID,
        "type": "index-pattern",
        "attributes": {
            "title": INDEX_PATTERN,
            "name": "django-reqlog requests",
            "timeFieldName": "@timestamp",
            "fieldFormatMap": json.dumps(
                {
                    "event.duration": {
                        "id": "duration",
                        "params": {
                            "inputFormat": "nanoseconds",
                            "outputFormat": "asMilliseconds",
                            "outputPrecision": 1,
                        },
                    },
                    "reqlog.shipper.spool_bytes": {"id": "bytes"},
                    **{
                        field: {
                            "id": "duration",
                            "params": {
                                "inputFormat": "nanoseconds",
                                "outputFormat": "asMilliseconds",
                                "outputPrecision": 2,
                            },
                        }
                        for field in ("reqlog.db.duration", "reqlog.db.slowest")
                    },
                },
                sort_keys=True,
            ),
        },
        "references": [],
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "typeMigrationVersion": TYPE_MIGRATION_VERSIONS["index-pattern"],
        "managed": False,
    }

    by_status = lens(
        "reqlog-lens-requests-by-status",
        "Requests over time by status class",
        "Requests per interval (sampled events weighted), stacked by 2xx/3xx/4xx/5xx.",
        "lnsXY",
        {
            "time": col_date(),
            "status": col_filters("Status class", STATUS_CLASSES),
            "count": col_requests("Requests"),
        },
        xy("bar_stacked", "time", ["count"], split="status"),
        REQUESTS_KQL,
    )
    error_rate = lens(
        "reqlog-lens-error-rate",
        "Error rate % (5xx)",
        "Share of requests answered with a 5xx status per interval, sampled events weighted.",
        "lnsXY",
        {"time": col_date(), **cols_error_rate("rate")},
        xy("line", "time", ["rate"], legend="bottom"),
        REQUESTS_KQL,
    )
    latency = lens(
        "reqlog-lens-latency-percentiles",
        "Latency p50 / p95 / p99",
        "Request duration percentiles per interval, from event.duration.",
        "lnsXY",
        {
            "time": col_date(),
            "p50": col_percentile("event.duration", 50, "p50"),
            "p95": col_percentile("event.duration", 95, "p95"),
            "p99": col_percentile("event.duration", 99, "p99"),
        },
        xy("line", "time", ["p50", "p95", "p99"], legend="bottom"),
        REQUESTS_KQL,
    )
    routes_count = lens(
        "reqlog-lens-top-routes-count",
        "Top routes by requests",
        "URL patterns (reqlog.route) with the most requests.",
        "lnsXY",
        {
            "route": col_terms("reqlog.route", "Route", 10, "count"),
            "count": col_requests("Requests"),
        },
        xy("bar_horizontal", "route", ["count"], legend="bottom"),
        REQUESTS_KQL,
    )
    routes_p95 = lens(
        "reqlog-lens-top-routes-p95",
        "Slowest routes (p95)",
        "URL patterns ordered by their 95th percentile duration.",
        "lnsDatatable",
        {
            "route": col_terms("reqlog.route", "Route", 10, "p95"),
            "p95": col_percentile("event.duration", 95, "p95"),
            "count": col_requests("Requests"),
        },
        table(["route", "p95", "count"]),
        REQUESTS_KQL,
    )
    routes_db = lens(
        "reqlog-lens-top-routes-db-time",
        "Slowest routes by query time",
        "URL patterns by their average database time per request (REQLOG_CAPTURE_DB), "
        "with the average query count and the slowest single statement.",
        "lnsDatatable",
        {
            "route": col_terms("reqlog.route", "Route", 10, "db_time"),
            "db_time": col_metric("average", "reqlog.db.duration", "Avg query time"),
            "queries": col_metric("average", "reqlog.db.queries", "Avg queries"),
            "slowest": col_metric("max", "reqlog.db.slowest", "Slowest statement"),
        },
        table(["route", "db_time", "queries", "slowest"]),
        DB_KQL,
    )
    status_codes = lens(
        "reqlog-lens-status-codes",
        "Status codes",
        "Breakdown of responses by HTTP status code.",
        "lnsPie",
        {
            "code": col_terms("http.response.status_code", "Status", 20, "count", "number"),
            "count": col_requests("Requests"),
        },
        {
            "shape": "donut",
            "layers": [
                {
                    "layerId": LAYER,
                    "layerType": "data",
                    "primaryGroups": ["code"],
                    "metrics": ["count"],
                    "numberDisplay": "percent",
                    "categoryDisplay": "default",
                    "legendDisplay": "default",
                    "nestedLegend": False,
                }
            ],
        },
        REQUESTS_KQL,
    )
    top_users = lens(
        "reqlog-lens-top-users",
        "Top users",
        "Authenticated users (user.name) with the most requests and their 5xx count.",
        "lnsDatatable",
        {
            "user": col_terms("user.name", "User", 10, "count"),
            "count": col_requests("Requests"),
            "errors": col_requests("5xx", FIVE_XX_KQL),
        },
        table(["user", "count", "errors"]),
        REQUESTS_KQL,
    )
    top_ips = lens(
        "reqlog-lens-top-client-ips",
        "Top client IPs",
        "client.ip as resolved through the trusted proxies, by request count.",
        "lnsDatatable",
        {
            "ip": col_terms("client.ip", "Client IP", 10, "count", "ip"),
            "count": col_requests("Requests"),
            "errors": col_requests("5xx", FIVE_XX_KQL),
        },
        table(["ip", "count", "errors"]),
        REQUESTS_KQL,
    )
    slowest = saved_search(
        "reqlog-search-slowest-requests",
        "Slowest requests",
        "Individual requests, longest first.",
        REQUESTS_KQL,
        [
            "event.duration",
            "http.request.method",
            "url.path",
            "http.response.status_code",
            "user.name",
            "http.request.id",
        ],
        [["event.duration", "desc"]],
    )
    recent_5xx = saved_search(
        "reqlog-search-recent-5xx",
        "Recent 5xx",
        "Server errors with request id, user, path and bodies where captured.",
        f"{REQUESTS_KQL} and {FIVE_XX_KQL}",
        [
            "http.request.id",
            "user.name",
            "http.request.method",
            "url.path",
            "http.response.status_code",
            "error.type",
            "error.message",
            "http.request.body.content",
            "http.response.body.content",
        ],
        [["@timestamp", "desc"]],
    )

    shipper_losses = lens(
        "reqlog-lens-shipper-losses",
        "Shipper: dropped and failed events",
        "Highest cumulative dropped/failed counter per interval; any rise means lost logs.",
        "lnsXY",
        {
            "time": col_date(),
            "dropped": col_metric("max", "reqlog.shipper.dropped", "dropped"),
            "failed": col_metric("max", "reqlog.shipper.failed", "failed"),
        },
        xy("line", "time", ["dropped", "failed"], legend="bottom"),
        SHIPPER_KQL,
    )
    shipper_throughput = lens(
        "reqlog-lens-shipper-throughput",
        "Shipper: sent and retried events",
        "Highest cumulative sent/retried counter reported per interval.",
        "lnsXY",
        {
            "time": col_date(),
            "sent": col_metric("max", "reqlog.shipper.sent", "sent"),
            "retried": col_metric("max", "reqlog.shipper.retried", "retried"),
        },
        xy("line", "time", ["sent", "retried"], legend="bottom"),
        SHIPPER_KQL,
    )
    shipper_backlog = lens(
        "reqlog-lens-shipper-backlog",
        "Shipper: queue depth and disk spool",
        "Largest in-memory queue and spool size reported per interval.",
        "lnsXY",
        {
            "time": col_date(),
            "queued": col_metric("max", "reqlog.shipper.queued", "queued"),
            "spooled": col_metric("max", "reqlog.shipper.spooled", "spooled"),
            "spool_bytes": col_metric("max", "reqlog.shipper.spool_bytes", "spool bytes"),
        },
        xy("line", "time", ["queued", "spooled", "spool_bytes"], legend="bottom"),
        SHIPPER_KQL,
    )
    shipper_warnings = lens(
        "reqlog-lens-shipper-warnings",
        "Shipper: warning reports",
        "Metric events logged at WARNING, i.e. whenever dropped or failed grew.",
        "lnsXY",
        {"time": col_date(), "count": col_count("Warnings")},
        xy("bar_stacked", "time", ["count"], legend="bottom"),
        f'{SHIPPER_KQL} and log.level : "warning"',
    )
    shipper_hosts = lens(
        "reqlog-lens-shipper-processes",
        "Shipper: per process",
        "Latest counters per host and process (one row per gunicorn worker).",
        "lnsDatatable",
        {
            "host": col_terms("host.hostname", "Host", 20, "sent"),
            "pid": col_terms("process.pid", "PID", 20, "sent", "number"),
            "sent": col_metric("max", "reqlog.shipper.sent", "sent"),
            "dropped": col_metric("max", "reqlog.shipper.dropped", "dropped"),
            "failed": col_metric("max", "reqlog.shipper.failed", "failed"),
        },
        table(["host", "pid", "sent", "dropped", "failed"]),
        SHIPPER_KQL,
    )

    requests_dashboard = dashboard(
        "reqlog-dashboard-requests",
        "Django requests",
        "One event per Django request, logged by django-reqlog.",
        [
            (by_status, 0, 0, 24, 14),
            (error_rate, 24, 0, 24, 14),
            (latency, 0, 14, 24, 14),
            (status_codes, 24, 14, 24, 14),
            (routes_count, 0, 28, 24, 14),
            (routes_p95, 24, 28, 24, 14),
            (top_users, 0, 42, 24, 14),
            (top_ips, 24, 42, 24, 14),
            (slowest, 0, 56, 48, 15),
            (recent_5xx, 0, 71, 48, 15),
            (routes_db, 0, 86, 48, 14),
        ],
    )
    shipper_dashboard = dashboard(
        "reqlog-dashboard-shipper",
        "Shipper health",
        "django-reqlog shipper self-metrics (event.kind: metric, event.action: shipper-health).",
        [
            (shipper_losses, 0, 0, 24, 14),
            (shipper_warnings, 24, 0, 24, 14),
            (shipper_throughput, 0, 14, 24, 14),
            (shipper_backlog, 24, 14, 24, 14),
            (shipper_hosts, 0, 28, 48, 14),
        ],
    )
    return [
        data_view,
        by_status,
        error_rate,
        latency,
        routes_count,
        routes_p95,
        routes_db,
        status_codes,
        top_users,
        top_ips,
        slowest,
        recent_5xx,
        shipper_losses,
        shipper_throughput,
        shipper_backlog,
        shipper_warnings,
        shipper_hosts,
        requests_dashboard,
        shipper_dashboard,
    ]


def render() -> str:
    return "".join(json.dumps(obj, sort_keys=True) + "\n" for obj in build())


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT} is stale: run python {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(text.splitlines())} objects)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
