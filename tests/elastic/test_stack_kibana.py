"""Kibana saved objects (django_reqlog/elastic/resources/kibana/reqlog.ndjson) and Kibana rules.

No Kibana runs here, so the tests check three things:

1. the NDJSON is importable: one object per line, unique ids, every
   reference resolves to an object of the right type, one migration version
   per type (never newer than the stack), dashboard panels and their
   references agree, Lens states are internally consistent;
2. every field a panel, saved search or rule uses exists in our index
   template (read from the package's resources at test time), with an
   aggregatable type wherever it is aggregated or sorted on;
3. for each panel and rule, the Elasticsearch query it stands for, written
   out below, runs on the real engine over the seeded dataset
   (tests/elastic/stack_dataset.py) and returns the numbers computed here in Python.
   The dataset has a period with sampling on, and request counts are sums
   of reqlog.sample_weight: each test also checks that a plain document
   count would have given a different answer there.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from typing import Any

import pytest
from elasticsearch import ApiError

from tests.elastic.stack_dataset import BASE, BURST_START, EVENTS, SAMPLED_START, get, parse, weight
from tests.elastic.stack_support import (
    KIBANA,
    ROOT,
    SAVED_OBJECTS,
    dsl_fields,
    esql_fields,
    flatten_fields,
    is_aggregatable,
    is_searchable,
    kql_fields,
    seed_dataset,
    template_mappings,
)
from tests.helpers.script_modules import load_module

builder = load_module(KIBANA / "build_saved_objects.py", "reqlog_kibana_builder")
esnode = load_module(ROOT / "tests" / "testbed" / "esnode.py", "reqlog_esnode_k")

OBJECTS: list[dict[str, Any]] = [
    json.loads(line) for line in SAVED_OBJECTS.read_text().splitlines()
]
BY_ID = {obj["id"]: obj for obj in OBJECTS}
RULES = {
    path.stem: json.loads(path.read_text()) for path in sorted((KIBANA / "rules").glob("*.json"))
}
CONNECTORS = json.loads((KIBANA / "connectors.json").read_text())
FIELDS = flatten_fields(template_mappings()["properties"])
LENSES = [o for o in OBJECTS if o["type"] == "lens"]


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def layer(obj: dict[str, Any]) -> dict[str, Any]:
    layers = obj["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
    assert list(layers) == [builder.LAYER]
    return layers[builder.LAYER]  # type: ignore[no-any-return]


# =================================================================== 1. importable


def test_ndjson_is_what_the_builder_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(KIBANA / "build_saved_objects.py"), "--check"],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()


def test_ids_are_unique_and_types_known() -> None:
    ids = [obj["id"] for obj in OBJECTS]
    assert len(ids) == len(set(ids))
    assert Counter(o["type"] for o in OBJECTS) == {
        "index-pattern": 1,
        "lens": 14,
        "search": 2,
        "dashboard": 2,
    }
    for obj in OBJECTS:
        assert set(obj) >= {"id", "type", "attributes", "references"}
        assert obj["attributes"]["title"]


def test_migration_versions_are_consistent_and_not_newer_than_the_stack() -> None:
    stack = version_tuple(esnode.DEFAULT_VERSION)
    assert {o["coreMigrationVersion"] for o in OBJECTS} == {builder.CORE_MIGRATION_VERSION}
    for obj in OBJECTS:
        wanted = builder.TYPE_MIGRATION_VERSIONS[obj["type"]]
        assert obj["typeMigrationVersion"] == wanted
        assert version_tuple(wanted) <= stack
    for dash in (o for o in OBJECTS if o["type"] == "dashboard"):
        panels = json.loads(dash["attributes"]["panelsJSON"])
        assert {p["version"] for p in panels} == {builder.PANEL_VERSION}


def test_every_reference_resolves_to_an_object_of_its_type() -> None:
    for obj in OBJECTS:
        names = [ref["name"] for ref in obj["references"]]
        assert len(names) == len(set(names)), obj["id"]
        for ref in obj["references"]:
            assert ref["id"] in BY_ID, f"{obj['id']} -> {ref['id']}"
            assert BY_ID[ref["id"]]["type"] == ref["type"]


def test_lens_layers_reference_the_data_view() -> None:
    data_view = BY_ID[builder.DATA_VIEW_ID]
    assert data_view["attributes"]["title"] == "logs-django.reqlog-*"
    assert data_view["attributes"]["timeFieldName"] == "@timestamp"
    for lens in LENSES:
        layers = lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
        assert lens["references"] == [
            {
                "type": "index-pattern",
                "id": builder.DATA_VIEW_ID,
                "name": f"indexpattern-datasource-layer-{name}",
            }
            for name in layers
        ]


@pytest.mark.parametrize("lens", LENSES, ids=[o["id"] for o in LENSES])
def test_lens_state_is_internally_consistent(lens: dict[str, Any]) -> None:
    state = lens["attributes"]["state"]
    columns = layer(lens)["columns"]
    order = layer(lens)["columnOrder"]
    assert len(order) == len(set(order)) and set(order) == set(columns)
    for column in columns.values():
        for ref in column.get("references", []):
            assert ref in columns
        order = column.get("params", {}).get("orderBy", {})
        if order.get("type") == "column":
            assert order["columnId"] in columns
    vis = state["visualization"]
    used: list[str] = []
    if lens["attributes"]["visualizationType"] == "lnsXY":
        for vis_layer in vis["layers"]:
            assert vis_layer["layerId"] == builder.LAYER
            used += [vis_layer["xAccessor"], *vis_layer["accessors"]]
            used += [vis_layer["splitAccessor"]] if "splitAccessor" in vis_layer else []
    elif lens["attributes"]["visualizationType"] == "lnsDatatable":
        used = [c["columnId"] for c in vis["columns"]]
    elif lens["attributes"]["visualizationType"] == "lnsPie":
        used = vis["layers"][0]["primaryGroups"] + vis["layers"][0]["metrics"]
    else:
        pytest.fail(f"unexpected visualization {lens['attributes']['visualizationType']}")
    assert used and set(used) <= set(columns)
    # Every top-level (non-helper) column is shown.
    helpers = {r for c in columns.values() for r in c.get("references", [])}
    helpers |= {r for h in list(helpers) for r in columns[h].get("references", [])}
    assert set(columns) - helpers == set(used)
    assert state["query"]["language"] == "kuery"


def test_formula_helpers_match_the_formula() -> None:
    columns = layer(BY_ID["reqlog-lens-error-rate"])["columns"]
    formula = columns["rate"]["params"]["formula"]
    assert formula == (
        "sum(reqlog.sample_weight, kql='http.response.status_code >= 500')"
        " / sum(reqlog.sample_weight)"
    )
    for helper in ("rateX0", "rateX1"):
        assert (columns[helper]["operationType"], columns[helper]["sourceField"]) == (
            "sum",
            "reqlog.sample_weight",
        )
    assert columns["rateX0"]["filter"]["query"] == "http.response.status_code >= 500"
    assert "filter" not in columns["rateX1"]
    assert columns["rateX2"]["params"]["tinymathAst"]["args"] == ["rateX0", "rateX1"]


@pytest.mark.parametrize("name", ["reqlog-dashboard-requests", "reqlog-dashboard-shipper"])
def test_dashboard_panels_match_references_and_fit_the_grid(name: str) -> None:
    dash = BY_ID[name]
    panels = json.loads(dash["attributes"]["panelsJSON"])
    refs = {ref["name"]: ref for ref in dash["references"]}
    assert len(panels) == len(refs)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        ref = refs[f"{panel['panelIndex']}:{panel['panelRefName']}"]
        assert ref["type"] == panel["type"]
        grid = panel["gridData"]
        assert grid["i"] == panel["panelIndex"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 48
        area = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & area, f"panel {panel['panelIndex']} overlaps another"
        cells |= area


def test_dashboards_have_the_issue_panels() -> None:
    def titles(name: str) -> list[str]:
        return [BY_ID[r["id"]]["attributes"]["title"] for r in BY_ID[name]["references"]]

    assert BY_ID["reqlog-dashboard-requests"]["attributes"]["title"] == "Django requests"
    assert titles("reqlog-dashboard-requests") == [
        "Requests over time by status class",
        "Error rate % (5xx)",
        "Latency p50 / p95 / p99",
        "Status codes",
        "Top routes by requests",
        "Slowest routes (p95)",
        "Top users",
        "Top client IPs",
        "Slowest requests",
        "Recent 5xx",
        "Slowest routes by query time",
    ]
    assert BY_ID["reqlog-dashboard-shipper"]["attributes"]["title"] == "Shipper health"
    for ref in BY_ID["reqlog-dashboard-shipper"]["references"]:
        query = BY_ID[ref["id"]]["attributes"]["state"]["query"]["query"]
        assert 'event.kind : "metric"' in query


def test_recent_5xx_search_shows_request_id_user_path_and_bodies() -> None:
    search = BY_ID["reqlog-search-recent-5xx"]["attributes"]
    assert {
        "http.request.id",
        "user.name",
        "url.path",
        "http.request.body.content",
        "http.response.body.content",
    } <= set(search["columns"])
    source = json.loads(search["kibanaSavedObjectMeta"]["searchSourceJSON"])
    assert "http.response.status_code >= 500" in source["query"]["query"]
    assert search["sort"] == [["@timestamp", "desc"]]


# =================================================================== 2. fields


def panel_field_uses() -> list[tuple[str, str, bool]]:
    """(where, field, aggregated?) for every field any saved object uses."""
    uses: list[tuple[str, str, bool]] = []
    for obj in OBJECTS:
        attrs = obj["attributes"]
        if obj["type"] == "lens":
            for column in layer(obj)["columns"].values():
                if column.get("sourceField") not in (None, "___records___"):
                    uses.append((obj["id"], column["sourceField"], True))
                if "filter" in column:
                    uses += [(obj["id"], f, False) for f in kql_fields(column["filter"]["query"])]
                for item in column.get("params", {}).get("filters", []):
                    uses += [(obj["id"], f, False) for f in kql_fields(item["input"]["query"])]
            uses += [(obj["id"], f, False) for f in kql_fields(attrs["state"]["query"]["query"])]
        elif obj["type"] == "search":
            uses += [(obj["id"], f, False) for f in attrs["columns"]]
            uses += [(obj["id"], f, True) for f, _ in attrs["sort"]]
            query = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]
            uses += [(obj["id"], f, False) for f in kql_fields(query)]
        elif obj["type"] == "index-pattern":
            uses.append((obj["id"], attrs["timeFieldName"], True))
            uses += [(obj["id"], f, False) for f in json.loads(attrs["fieldFormatMap"])]
    return uses


def rule_field_uses() -> list[tuple[str, str, bool]]:
    uses: list[tuple[str, str, bool]] = []
    for name, rule in RULES.items():
        params = rule["params"]
        uses.append((name, params["timeField"], True))
        if params.get("searchType") == "esQuery":
            uses += [(name, f, False) for f in dsl_fields(json.loads(params["esQuery"]))]
            uses += [(name, params["aggField"], True)] if params.get("aggField") else []
        elif params.get("searchType") == "esqlQuery":
            # ES|QL STATS/EVAL aggregate over these.
            uses += [(name, f, True) for f in esql_fields(params["esqlQuery"]["esql"])]
        else:
            uses += [(name, params[k], True) for k in ("termField", "aggField") if params.get(k)]
            uses += [(name, f, False) for f in kql_fields(params["filterKuery"])]
    return uses


@pytest.mark.parametrize(
    ("where", "field", "aggregated"),
    sorted(set(panel_field_uses() + rule_field_uses())),
)
def test_field_exists_in_the_index_template(where: str, field: str, aggregated: bool) -> None:
    assert field in FIELDS, f"{where}: {field} is not mapped by the index template"
    spec = FIELDS[field]
    if aggregated:
        assert is_aggregatable(spec), f"{where}: {field} ({spec}) cannot be aggregated/sorted"
    else:
        assert is_searchable(spec) or spec.get("type") == "flattened", f"{where}: {field}"


def test_field_use_lists_are_not_empty() -> None:
    # Guards the parametrization above against silently extracting nothing.
    assert len({f for _, f, _ in panel_field_uses()}) >= 20
    assert {f for _, f, _ in rule_field_uses()} >= {
        "@timestamp",
        "event.kind",
        "http.response.status_code",
        "host.hostname",
        "event.action",
        "log.level",
        "reqlog.sample_weight",
    }


# =================================================================== rules (offline)


@pytest.mark.parametrize("name", sorted(RULES))
def test_rule_uses_basic_license_types_and_our_connectors(name: str) -> None:
    rule = RULES[name]
    uuid.UUID(rule["id"])  # the create-rule API wants a UUID
    assert rule["rule_type_id"] in {".es-query", ".index-threshold"}
    assert rule["consumer"] == "stackAlerts"
    assert rule["params"]["timeWindowSize"] == 5 and rule["params"]["timeWindowUnit"] == "m"
    assert rule["_doc"], "document the thresholds"
    connector_ids = {c["id"] for c in CONNECTORS}
    group = "query matched" if rule["rule_type_id"] == ".es-query" else "threshold met"
    assert {a["id"] for a in rule["actions"]} == connector_ids
    assert {a["group"] for a in rule["actions"]} == {group}
    index_patterns = rule["params"].get("index") or [
        re.match(r"FROM (\S+)", rule["params"]["esqlQuery"]["esql"]).group(1)  # type: ignore[union-attr]
    ]
    assert index_patterns == ["logs-django.reqlog-*"]


def test_connectors_are_basic_license_types() -> None:
    assert sorted(c["connector_type_id"] for c in CONNECTORS) == [".index", ".server-log"]
    for connector in CONNECTORS:
        uuid.UUID(connector["id"])


# =================================================================== 3. real engine

WINDOW = (BASE - dt.timedelta(hours=1), BASE + dt.timedelta(hours=3))
REQUESTS = [e for e in EVENTS if get(e, "event.kind") == "event"]
METRICS = [e for e in EVENTS if get(e, "event.kind") == "metric"]
INTERVAL = dt.timedelta(minutes=30)

# The KQL of the panels, written out as Elasticsearch query DSL.
REQUESTS_DSL = {"term": {"event.kind": "event"}}
SHIPPER_DSL = [{"term": {"event.kind": "metric"}}, {"term": {"event.action": "shipper-health"}}]
FIVE_XX_DSL = {"range": {"http.response.status_code": {"gte": 500}}}
REQUESTS_AGG = {"sum": {"field": "reqlog.sample_weight"}}  # what the panels sum
STATUS_CLASS_DSL = {
    "2xx": {"range": {"http.response.status_code": {"gte": 200, "lt": 300}}},
    "3xx": {"range": {"http.response.status_code": {"gte": 300, "lt": 400}}},
    "4xx": {"range": {"http.response.status_code": {"gte": 400, "lt": 500}}},
    "5xx": FIVE_XX_DSL,
}


@pytest.fixture(scope="module")
def stream(es_client: Any) -> str:
    return seed_dataset(es_client)


def search(client: Any, index: str, filters: list[dict[str, Any]], **body: Any) -> dict[str, Any]:
    time_range = {
        "range": {"@timestamp": {"gte": WINDOW[0].isoformat(), "lt": WINDOW[1].isoformat()}}
    }
    response = client.search(
        index=index, query={"bool": {"filter": [time_range, *filters]}}, **body
    )
    return response.body if hasattr(response, "body") else response  # type: ignore[no-any-return]


def histogram(**aggs: Any) -> dict[str, Any]:
    return {
        "date_histogram": {"field": "@timestamp", "fixed_interval": "30m", "min_doc_count": 1},
        "aggs": aggs,
    }


def bucket_key(event: dict[str, Any]) -> int:
    moment = parse(get(event, "@timestamp"))
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return int((moment - epoch) // INTERVAL * INTERVAL.total_seconds() * 1000)


def status_class(code: int) -> str:
    return f"{code // 100}xx"


def percentile_bounds(values: list[float], pct: float) -> tuple[float, float]:
    """The two neighbours around the exact rank: t-digest interpolates between them."""
    ordered = sorted(values)
    rank = pct / 100 * (len(ordered) - 1)
    return ordered[max(0, math.floor(rank) - 1)], ordered[
        min(len(ordered) - 1, math.ceil(rank) + 1)
    ]


def lens_columns(lens_id: str) -> list[tuple[str, str | None, Any]]:
    """(operation, field, key params) of a panel, to tie each query below to it."""
    out = []
    state = layer(BY_ID[lens_id])
    for column in (state["columns"][c] for c in state["columnOrder"]):
        params = column.get("params", {})
        key = (
            params.get("percentile") or params.get("size") or len(params.get("filters", [])) or None
        )
        out.append((column["operationType"], column.get("sourceField"), key))
    return out


@pytest.mark.es
def test_requests_over_time_by_status_class(es_client: Any, stream: str) -> None:
    assert lens_columns("reqlog-lens-requests-by-status") == [
        ("date_histogram", "@timestamp", None),
        ("filters", None, 4),
        ("sum", "reqlog.sample_weight", None),
    ]
    aggs = {
        "t": histogram(s={"filters": {"filters": STATUS_CLASS_DSL}, "aggs": {"n": REQUESTS_AGG}})
    }
    result = search(es_client, stream, [REQUESTS_DSL], size=0, aggs=aggs)
    got = {
        (b["key"], name): c["n"]["value"]
        for b in result["aggregations"]["t"]["buckets"]
        for name, c in b["s"]["buckets"].items()
        if c["doc_count"]
    }
    expected: Counter[tuple[int, str]] = Counter()
    for e in REQUESTS:
        expected[bucket_key(e), status_class(get(e, "http.response.status_code"))] += weight(e)
    assert got == dict(expected)
    assert sum(got.values()) == sum(map(weight, REQUESTS)) == 1598 != len(REQUESTS)


@pytest.mark.es
def test_error_rate_percent(es_client: Any, stream: str) -> None:
    aggs = {
        "t": histogram(n=REQUESTS_AGG, errors={"filter": FIVE_XX_DSL, "aggs": {"n": REQUESTS_AGG}})
    }
    result = search(es_client, stream, [REQUESTS_DSL], size=0, aggs=aggs)
    got = {
        b["key"]: b["errors"]["n"]["value"] / b["n"]["value"]
        for b in result["aggregations"]["t"]["buckets"]
    }
    totals: Counter[int] = Counter()
    errors: Counter[int] = Counter()
    unweighted: Counter[int] = Counter()
    for event in REQUESTS:
        totals[bucket_key(event)] += weight(event)
        unweighted[bucket_key(event)] += 1
        errors[bucket_key(event)] += (get(event, "http.response.status_code") >= 500) * weight(
            event
        )
    assert got == {k: errors[k] / totals[k] for k in totals}
    # In the sampled period, the share of documents would overstate the error rate.
    sampled = bucket_key({"@timestamp": SAMPLED_START.isoformat()})
    assert got[sampled] < errors[sampled] / unweighted[sampled] / 3
    # The burst lands in the 11:00-11:30 bucket.
    burst_bucket = bucket_key({"@timestamp": BURST_START.isoformat()})
    assert got[burst_bucket] > 3 * max(v for k, v in got.items() if k != burst_bucket)


@pytest.mark.es
def test_latency_percentiles_over_time(es_client: Any, stream: str) -> None:
    assert [c for c in lens_columns("reqlog-lens-latency-percentiles") if c[0] == "percentile"] == [
        ("percentile", "event.duration", 50),
        ("percentile", "event.duration", 95),
        ("percentile", "event.duration", 99),
    ]
    aggs = {
        "t": histogram(p={"percentiles": {"field": "event.duration", "percents": [50, 95, 99]}})
    }
    result = search(es_client, stream, [REQUESTS_DSL], size=0, aggs=aggs)
    durations: dict[int, list[float]] = defaultdict(list)
    for event in REQUESTS:
        durations[bucket_key(event)].append(get(event, "event.duration"))
    buckets = result["aggregations"]["t"]["buckets"]
    assert {b["key"] for b in buckets} == set(durations)
    for bucket in buckets:
        values = bucket["p"]["values"]
        for pct in (50, 95, 99):
            low, high = percentile_bounds(durations[bucket["key"]], pct)
            assert low <= values[f"{pct}.0"] <= high, (bucket["key_as_string"], pct)
        assert values["50.0"] <= values["95.0"] <= values["99.0"]


@pytest.mark.es
def test_top_routes_by_requests(es_client: Any, stream: str) -> None:
    assert ("terms", "reqlog.route", 10) in lens_columns("reqlog-lens-top-routes-count")
    assert ("sum", "reqlog.sample_weight", None) in lens_columns("reqlog-lens-top-routes-count")
    aggs = {
        "r": {
            "terms": {"field": "reqlog.route", "size": 10, "order": {"n": "desc"}},
            "aggs": {"n": REQUESTS_AGG},
        }
    }
    result = search(es_client, stream, [REQUESTS_DSL], size=0, aggs=aggs)
    got = [(b["key"], b["n"]["value"]) for b in result["aggregations"]["r"]["buckets"]]
    expected: Counter[str] = Counter()
    for e in REQUESTS:
        expected[get(e, "reqlog.route")] += weight(e)
    assert dict(got) == dict(expected)
    assert [c for _, c in got] == sorted(expected.values(), reverse=True)
    assert got[0][0] == ""  # the home page, the heaviest route


@pytest.mark.es
def test_slowest_routes_by_p95(es_client: Any, stream: str) -> None:
    columns = lens_columns("reqlog-lens-top-routes-p95")
    assert ("terms", "reqlog.route", 10) in columns and (
        "percentile",
        "event.duration",
        95,
    ) in columns
    aggs = {
        "r": {
            "terms": {"field": "reqlog.route", "size": 10, "order": {"p95.95": "desc"}},
            "aggs": {"p95": {"percentiles": {"field": "event.duration", "percents": [95]}}},
        }
    }
    result = search(es_client, stream, [REQUESTS_DSL], size=0, aggs=aggs)
    buckets = result["aggregations"]["r"]["buckets"]
    by_route: dict[str, list[float]] = defaultdict(list)
    for event in REQUESTS:
        by_route[get(event, "reqlog.route")].append(get(event, "event.duration"))
    assert {b["key"] for b in buckets} == set(by_route)
    p95s = [b["p95"]["values"]["95.0"] for b in buckets]
    assert p95s == sorted(p95s, reverse=True)
    for bucket in buckets:
        low, high = percentile_bounds(by_route[bucket["key"]], 95)
        assert low <= bucket["p95"]["values"]["95.0"] <= high
    assert buckets[0]["key"] == "api/slow/"


@pytest.mark.es
def test_slowest_routes_by_query_time(es_client: Any, stream: str) -> None:
    assert lens_columns("reqlog-lens-top-routes-db-time") == [
        ("terms", "reqlog.route", 10),
        ("average", "reqlog.db.duration", None),
        ("average", "reqlog.db.queries", None),
        ("max", "reqlog.db.slowest", None),
    ]
    query = BY_ID["reqlog-lens-top-routes-db-time"]["attributes"]["state"]["query"]["query"]
    assert query == 'event.kind : "event" and reqlog.db.queries >= 0'
    aggs = {
        "r": {
            "terms": {"field": "reqlog.route", "size": 10, "order": {"t": "desc"}},
            "aggs": {
                "t": {"avg": {"field": "reqlog.db.duration"}},
                "q": {"avg": {"field": "reqlog.db.queries"}},
                "s": {"max": {"field": "reqlog.db.slowest"}},
            },
        }
    }
    counted = {"range": {"reqlog.db.queries": {"gte": 0}}}
    result = search(es_client, stream, [REQUESTS_DSL, counted], size=0, aggs=aggs)
    got = [
        (b["key"], b["t"]["value"], b["q"]["value"], b["s"]["value"])
        for b in result["aggregations"]["r"]["buckets"]
    ]
    by_route: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in REQUESTS:
        if get(event, "reqlog.db") is not None:
            by_route[get(event, "reqlog.route")].append(get(event, "reqlog.db"))
    expected = [
        (
            route,
            sum(d["duration"] for d in dbs) / len(dbs),
            sum(d["queries"] for d in dbs) / len(dbs),
            max((d["slowest"] for d in dbs if "slowest" in d), default=None),
        )
        for route, dbs in by_route.items()
    ]
    expected.sort(key=lambda row: row[1], reverse=True)
    assert [row[0] for row in got] == [row[0] for row in expected]
    for (_, time, queries, slowest), (_, e_time, e_queries, e_slowest) in zip(got, expected, strict=True):
        assert time == pytest.approx(e_time) and queries == pytest.approx(e_queries)
        assert slowest == e_slowest
    # The API list does the most database work; the slow endpoint none.
    assert got[0][0] == "api/items/" and got[-1][0] == "api/slow/"
    # Events without the figures (the sampled period, the burst) are not averaged as zero.
    assert sum(len(d) for d in by_route.values()) < len(REQUESTS)


@pytest.mark.es
def test_status_code_breakdown(es_client: Any, stream: str) -> None:
    assert ("terms", "http.response.status_code", 20) in lens_columns("reqlog-lens-status-codes")
    aggs = {
        "s": {
            "terms": {"field": "http.response.status_code", "size": 20},
            "aggs": {"n": REQUESTS_AGG},
        }
    }
    result = search(es_client, stream, [REQUESTS_DSL], size=0, aggs=aggs)
    got = {b["key"]: b["n"]["value"] for b in result["aggregations"]["s"]["buckets"]}
    expected: Counter[int] = Counter()
    for e in REQUESTS:
        expected[get(e, "http.response.status_code")] += weight(e)
    assert got == dict(expected)
    assert set(got) == {200, 302, 404, 500}


@pytest.mark.es
@pytest.mark.parametrize(
    ("lens_id", "field"),
    [("reqlog-lens-top-users", "user.name"), ("reqlog-lens-top-client-ips", "client.ip")],
)
def test_top_users_and_client_ips(es_client: Any, stream: str, lens_id: str, field: str) -> None:
    columns = lens_columns(lens_id)
    assert ("terms", field, 10) in columns
    assert columns.count(("sum", "reqlog.sample_weight", None)) == 2  # requests and 5xx
    aggs = {
        "k": {
            "terms": {"field": field, "size": 10},
            "aggs": {
                "n": REQUESTS_AGG,
                "errors": {"filter": FIVE_XX_DSL, "aggs": {"n": REQUESTS_AGG}},
            },
        }
    }
    result = search(es_client, stream, [REQUESTS_DSL], size=0, aggs=aggs)
    got = {
        b["key"]: (b["n"]["value"], b["errors"]["n"]["value"])
        for b in result["aggregations"]["k"]["buckets"]
    }
    expected: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for event in REQUESTS:
        value = get(event, field)
        if value is None:
            continue  # anonymous requests have no user.name: not a bucket
        expected[value][0] += weight(event)
        expected[value][1] += (get(event, "http.response.status_code") >= 500) * weight(event)
    assert got == {k: tuple(v) for k, v in expected.items()}


@pytest.mark.es
def test_slowest_requests_search(es_client: Any, stream: str) -> None:
    search_obj = BY_ID["reqlog-search-slowest-requests"]["attributes"]
    assert search_obj["sort"] == [["event.duration", "desc"]]
    result = search(es_client, stream, [REQUESTS_DSL], size=5, sort=[{"event.duration": "desc"}])
    got = [h["_source"]["event"]["id"] for h in result["hits"]["hits"]]
    ordered = sorted(REQUESTS, key=lambda e: get(e, "event.duration"), reverse=True)
    assert got == [get(e, "event.id") for e in ordered[:5]]


@pytest.mark.es
def test_recent_5xx_search(es_client: Any, stream: str) -> None:
    result = search(
        es_client,
        stream,
        [REQUESTS_DSL, FIVE_XX_DSL],
        size=10,
        sort=[{"@timestamp": "desc"}],
        track_total_hits=True,
    )
    errors = [e for e in REQUESTS if get(e, "http.response.status_code") >= 500]
    assert result["hits"]["total"]["value"] == len(errors) == 65
    newest = sorted(errors, key=lambda e: get(e, "@timestamp"), reverse=True)[:10]
    assert [h["_source"]["event"]["id"] for h in result["hits"]["hits"]] == [
        get(e, "event.id") for e in newest
    ]
    columns = BY_ID["reqlog-search-recent-5xx"]["attributes"]["columns"]
    for hit in result["hits"]["hits"]:
        present = [c for c in columns if get(hit["_source"], c) is not None]
        assert {"http.request.id", "url.path", "http.request.body.content"} <= set(present)


@pytest.mark.es
@pytest.mark.parametrize(
    ("lens_id", "counters"),
    [
        ("reqlog-lens-shipper-losses", ["dropped", "failed"]),
        ("reqlog-lens-shipper-throughput", ["sent", "retried"]),
        ("reqlog-lens-shipper-backlog", ["queued", "spooled", "spool_bytes"]),
    ],
)
def test_shipper_counter_panels(
    es_client: Any, stream: str, lens_id: str, counters: list[str]
) -> None:
    assert [c for c in lens_columns(lens_id) if c[0] == "max"] == [
        ("max", f"reqlog.shipper.{name}", None) for name in counters
    ]
    aggs = {"t": histogram(**{n: {"max": {"field": f"reqlog.shipper.{n}"}} for n in counters})}
    result = search(es_client, stream, SHIPPER_DSL, size=0, aggs=aggs)
    got = {
        b["key"]: {n: b[n]["value"] for n in counters}
        for b in result["aggregations"]["t"]["buckets"]
    }
    expected: dict[int, dict[str, float]] = defaultdict(dict)
    for event in METRICS:
        slot = expected[bucket_key(event)]
        for name in counters:
            slot[name] = max(slot.get(name, 0), float(get(event, f"reqlog.shipper.{name}")))
    assert got == dict(expected)


@pytest.mark.es
def test_shipper_warning_panel(es_client: Any, stream: str) -> None:
    query = BY_ID["reqlog-lens-shipper-warnings"]["attributes"]["state"]["query"]["query"]
    assert query.endswith('log.level : "warning"')
    aggs = {"t": histogram()}
    result = search(
        es_client, stream, [*SHIPPER_DSL, {"term": {"log.level": "warning"}}], size=0, aggs=aggs
    )
    got = {b["key"]: b["doc_count"] for b in result["aggregations"]["t"]["buckets"]}
    warnings = [e for e in METRICS if get(e, "log.level") == "warning"]
    assert got == dict(Counter(bucket_key(e) for e in warnings))
    assert sum(got.values()) == 3


@pytest.mark.es
def test_shipper_per_process_table(es_client: Any, stream: str) -> None:
    columns = lens_columns("reqlog-lens-shipper-processes")
    assert columns[:2] == [("terms", "host.hostname", 20), ("terms", "process.pid", 20)]
    aggs = {
        "h": {
            "terms": {"field": "host.hostname", "size": 20},
            "aggs": {
                "p": {
                    "terms": {"field": "process.pid", "size": 20},
                    "aggs": {
                        n: {"max": {"field": f"reqlog.shipper.{n}"}}
                        for n in ("sent", "dropped", "failed")
                    },
                }
            },
        }
    }
    result = search(es_client, stream, SHIPPER_DSL, size=0, aggs=aggs)
    got = {
        (h["key"], p["key"]): (p["sent"]["value"], p["dropped"]["value"], p["failed"]["value"])
        for h in result["aggregations"]["h"]["buckets"]
        for p in h["p"]["buckets"]
    }
    expected: dict[tuple[str, int], tuple[float, float, float]] = {}
    for event in METRICS:
        key = (get(event, "host.hostname"), get(event, "process.pid"))
        old = expected.get(key, (0.0, 0.0, 0.0))
        new = tuple(float(get(event, f"reqlog.shipper.{n}")) for n in ("sent", "dropped", "failed"))
        expected[key] = tuple(max(a, b) for a, b in zip(old, new, strict=True))  # type: ignore[assignment]
    assert got == expected
    assert got[("web-b", 202)][1] == 15.0 and got[("web-a", 101)][1] == 0.0


# ------------------------------------------------------------ Kibana rules on the engine


def rule_window(end: dt.datetime) -> dict[str, Any]:
    """The time filter Kibana adds to a rule query: the last timeWindowSize minutes."""
    start = end - dt.timedelta(minutes=5)
    return {"range": {"@timestamp": {"gte": start.isoformat(), "lte": end.isoformat()}}}


def in_window(event: dict[str, Any], end: dt.datetime) -> bool:
    return end - dt.timedelta(minutes=5) <= parse(get(event, "@timestamp")) <= end


def compare(value: float, comparator: str, threshold: float) -> bool:
    return {
        ">=": value >= threshold,
        ">": value > threshold,
        "<": value < threshold,
        "<=": value <= threshold,
    }[comparator]


@pytest.mark.es
@pytest.mark.parametrize(
    ("minutes", "fires"),
    [(-30, False), (30, False), (55, False), (63, True), (64, True), (70, False)],
)
def test_kibana_5xx_burst_rule(es_client: Any, stream: str, minutes: int, fires: bool) -> None:
    params = RULES["reqlog-5xx-burst"]["params"]
    assert (params["aggType"], params["aggField"]) == ("sum", "reqlog.sample_weight")
    end = BASE + dt.timedelta(minutes=minutes)
    query = json.loads(params["esQuery"])["query"]
    response = es_client.search(
        index=",".join(params["index"]),
        size=0,
        query={"bool": {"filter": [query, rule_window(end)]}},
        aggs={"value": {params["aggType"]: {"field": params["aggField"]}}},
    )
    value = response["aggregations"]["value"]["value"]
    expected = sum(
        weight(e)
        for e in REQUESTS
        if get(e, "http.response.status_code") >= 500 and in_window(e, end)
    )
    assert value == expected
    assert compare(value, params["thresholdComparator"], params["threshold"][0]) is fires


def rate_thresholds() -> tuple[int, float]:
    esql = RULES["reqlog-5xx-rate"]["params"]["esqlQuery"]["esql"]
    match = re.search(r"WHERE requests >= (\d+) AND error_pct > ([\d.]+)$", esql)
    assert match, esql
    return int(match.group(1)), float(match.group(2))


def _rate_fires(requests: float, errors: float) -> bool:
    min_requests, max_pct = rate_thresholds()
    return requests >= min_requests and round(errors * 100.0 / max(requests, 1), 2) > max_pct


@pytest.mark.es
@pytest.mark.parametrize(
    ("minutes", "fires"),
    [(-30, False), (30, False), (55, False), (63, True), (70, False), (105, False), (110, False)],
)
def test_kibana_5xx_rate_rule(es_client: Any, stream: str, minutes: int, fires: bool) -> None:
    """The ES|QL rule, and its exact equivalent in query DSL.

    The DSL form always runs. The ES|QL form runs where the engine has
    ES|QL; the test bed's minimal distribution lacks that module, which the
    skip message then says (the Docker image of the stack has it).
    Minutes 105 and 110 end windows of the sampled period: a share of
    documents would fire there, the share of requests does not.
    """
    end = BASE + dt.timedelta(minutes=minutes)
    window = [e for e in REQUESTS if in_window(e, end)]
    failed = [e for e in window if get(e, "http.response.status_code") >= 500]
    requests, errors = sum(map(weight, window)), sum(map(weight, failed))
    assert _rate_fires(requests, errors) is fires
    if minutes >= 100:
        assert _rate_fires(len(window), len(failed)), "the window must prove the weighting"

    result = es_client.search(
        index="logs-django.reqlog-*",
        size=0,
        query={"bool": {"filter": [REQUESTS_DSL, rule_window(end)]}},
        aggs={"n": REQUESTS_AGG, "errors": {"filter": FIVE_XX_DSL, "aggs": {"n": REQUESTS_AGG}}},
    )
    aggregations = result["aggregations"]
    assert (aggregations["n"]["value"], aggregations["errors"]["n"]["value"]) == (requests, errors)

    esql = RULES["reqlog-5xx-rate"]["params"]["esqlQuery"]["esql"]
    try:
        response = es_client.perform_request(
            "POST",
            "/_query",
            headers={"accept": "application/json", "content-type": "application/json"},
            body={"query": esql, "filter": rule_window(end)},
        )
    except ApiError as exc:
        # Without the ES|QL module, POST /_query is routed as an index named
        # "_query" (405) or not at all (400/404).
        if exc.status_code in (400, 404, 405) and "_query" in str(exc):
            pytest.skip(f"this Elasticsearch has no ES|QL (minimal distribution): {exc}"[:200])
        raise
    rows = response.body["values"]
    assert bool(rows) is fires


@pytest.mark.es
@pytest.mark.parametrize(
    ("minutes", "hosts"), [(30, set()), (69, set()), (72, {"web-b"}), (77, {"web-b"}), (80, set())]
)
def test_kibana_shipper_rule(es_client: Any, stream: str, minutes: int, hosts: set[str]) -> None:
    params = RULES["reqlog-shipper-losses"]["params"]
    assert (
        params["filterKuery"]
        == 'event.kind : "metric" and event.action : "shipper-health" and log.level : "warning"'
    )
    end = BASE + dt.timedelta(minutes=minutes)
    result = es_client.search(
        index=",".join(params["index"]),
        size=0,
        query={
            "bool": {"filter": [*SHIPPER_DSL, {"term": {"log.level": "warning"}}, rule_window(end)]}
        },
        aggs={"g": {"terms": {"field": params["termField"], "size": params["termSize"]}}},
    )
    counts = {b["key"]: b["doc_count"] for b in result["aggregations"]["g"]["buckets"]}
    firing = {
        h
        for h, c in counts.items()
        if compare(c, params["thresholdComparator"], params["threshold"][0])
    }
    expected = Counter(
        get(e, "host.hostname")
        for e in METRICS
        if get(e, "log.level") == "warning" and in_window(e, end)
    )
    assert counts == dict(expected)
    assert firing == hosts
