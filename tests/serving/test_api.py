"""The query API as a real server process (``shopper serve``, uvicorn) and an HTTP client.

Every endpoint returns exactly the rows of its mart (read straight from the warehouse the version
was published from), bad input is a 422 that names the parameter, unknown keys a 404, a mart not
built yet a 503 that says what to run, and nothing is ever a 500 or a stack trace.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import httpx
import pytest

from shopper_assets.serving.local import LocalServing
from tests.serving.conftest import Deployment
from tests.serving.servers import api_server

pytestmark = pytest.mark.slow


def jsonable(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def mart(dep: Deployment, sql: str, params: list | None = None) -> list[dict]:
    """Rows straight from the warehouse, as the API's JSON would carry them."""
    with duckdb.connect(str(dep.warehouse), read_only=True) as con:
        cur = con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [{n: jsonable(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()]


@pytest.fixture(scope="module")
def api(analytics: Deployment, tmp_path_factory):
    with api_server(analytics.root, tmp_path_factory.mktemp("api-logs")) as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield client
        assert "Traceback" not in server.output()


@pytest.fixture(scope="module")
def api_without_analytics(demo: Deployment, tmp_path_factory):
    logs = tmp_path_factory.mktemp("api-demo-logs")
    with api_server(demo.root, logs) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


D0, D1 = "2026-11-20", "2026-11-21"


def q(mart: str, where: str = "true", order: str = "1") -> str:
    return f"SELECT * FROM marts.{mart} WHERE {where} ORDER BY {order}"


ENDPOINTS = [  # path, params, the mart's rows in the API's order
    ("/kpis", {"start": D0, "end": D1}, q("kpi_daily", order="event_date")),
    ("/kpis", {"start": D1, "end": D1}, q("kpi_daily", f"event_date = '{D1}'")),
    (
        "/revenue/categories",
        {"start": D0, "end": D0, "category": "electronics"},
        q("revenue_by_category_daily", f"event_date = '{D0}' AND category = 'electronics'"),
    ),
    (
        "/products/top",
        {"start": D0, "end": D1, "max_rank": 3},
        q("top_products_daily", "revenue_rank <= 3", "event_date, revenue_rank, product_id"),
    ),
    ("/orders/hourly", {"start": D1, "end": D1}, q("orders_per_hour", f"event_date = '{D1}'", "event_hour")),
    ("/funnel", {}, q("funnel_daily", order="event_date")),
    ("/customers/ltv", {}, q("customer_ltv", order="revenue DESC, user_id")),
    ("/customers/ltv", {"tier": "low"}, q("customer_ltv", "ltv_tier = 'low'", "revenue DESC")),
    ("/customers/ltv", {"is_repeat": "true"}, q("customer_ltv", "is_repeat", "revenue DESC")),
    ("/cohorts/retention", {}, q("cohort_retention", order="cohort_week, weeks_since")),
    ("/revenue/monthly", {"start": "2026-11-01"}, q("revenue_monthly", "month >= '2026-11-01'")),
    ("/revenue/weekday", {}, q("revenue_by_weekday", order="weekday")),
    ("/brands/top", {"start": D1, "max_rank": 1}, q("top_brands_daily", f"event_date = '{D1}' AND rank = 1")),
    ("/cart-abandonment", {"end": D0}, q("cart_abandonment_daily", f"event_date <= '{D0}'")),
    (
        "/campaigns/performance",
        {"campaign_id": "cmp-b"},
        q("campaign_performance_daily", "campaign_id = 'cmp-b'", "event_date"),
    ),
    ("/attribution", {"model": "linear"}, q("order_attribution", "model = 'linear'", "order_id, model, campaign_id")),
    ("/attribution", {"order_id": "o-2"}, q("order_attribution", "order_id = 'o-2'", "model, campaign_id")),
]


@pytest.mark.parametrize(("path", "params", "sql"), ENDPOINTS, ids=[f"{p}?{q}" for p, q, _ in ENDPOINTS])
def test_endpoint_rows_equal_the_mart(api: httpx.Client, analytics: Deployment, path, params, sql):
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    expected = mart(analytics, sql)
    assert expected, "the case must select rows"
    assert response.json() == expected
    published = LocalServing(analytics.root / "serving").current()
    assert response.headers["X-Published-Version"] == published.name


def test_attribution_models_side_by_side(api: httpx.Client, analytics: Deployment):
    rows = api.get("/attribution/summary").json()
    expected = {}
    for order, model, campaign, credit, revenue in analytics.analytics["order_attribution"]:
        entry = expected.setdefault((model, campaign), {"orders": set(), "credit": 0.0, "revenue": 0.0})
        entry["orders"].add(order)
        entry["credit"] += credit
        entry["revenue"] += float(revenue)
    assert {(r["model"], r["campaign_id"]) for r in rows} == set(expected)
    for r in rows:
        want = expected[(r["model"], r["campaign_id"])]
        assert r["orders"] == len(want["orders"])
        assert r["credit"] == pytest.approx(want["credit"])
        assert r["attributed_revenue"] == pytest.approx(want["revenue"])
    # each model credits every order exactly once in total
    for model in ("first_touch", "last_touch", "linear", "position_based"):
        assert sum(r["credit"] for r in rows if r["model"] == model) == pytest.approx(3.0)


def test_recommendations_of_a_product_and_unknown_products(api: httpx.Client, analytics: Deployment):
    first = analytics.analytics["product_recommendations"][0][0]
    response = api.get(f"/products/{first}/recommendations", params={"limit": 2})
    assert response.status_code == 200
    expected = mart(analytics, q("product_recommendations", "product_id = ?", "rank"), [first])
    assert response.json() == expected[:2] and 'rel="next"' in response.headers["Link"]
    assert api.get(f"/products/{first}/recommendations").json() == expected

    unknown = api.get("/products/p-does-not-exist/recommendations")
    assert unknown.status_code == 404 and "p-does-not-exist" in unknown.json()["detail"]
    other = mart(analytics, "SELECT product_id FROM marts.dim_products WHERE product_id <> ? LIMIT 1", [first])[0]
    known_without = api.get(f"/products/{other['product_id']}/recommendations")  # a product with none: empty, not 404
    assert known_without.status_code == 200 and known_without.json() == []


def test_one_customer_and_an_unknown_one(api: httpx.Client, analytics: Deployment):
    response = api.get("/customers/u-medium/ltv")
    assert response.json() == mart(analytics, "SELECT * FROM marts.customer_ltv WHERE user_id = 'u-medium'")[0]
    missing = api.get("/customers/nobody/ltv")
    assert missing.status_code == 404 and "nobody" in missing.json()["detail"]


def test_pages_follow_the_link_header(api: httpx.Client, analytics: Deployment):
    everything = api.get("/orders/hourly").json()
    assert len(everything) == 48
    collected, url = [], "/orders/hourly?limit=10"
    while url:
        response = api.get(url)
        collected += response.json()
        link = response.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
    assert collected == everything == mart(analytics, "SELECT * FROM marts.orders_per_hour ORDER BY event_hour")
    assert api.get("/orders/hourly", params={"limit": 10, "offset": 45}).json() == everything[45:]


BAD = [
    ("/kpis", {"start": "2026-13-01"}, "start"),
    ("/kpis", {"start": "yesterday"}, "start"),
    ("/kpis", {"end": "2026-02-30"}, "end"),
    ("/kpis", {"start": D1, "end": D0}, "start"),
    ("/kpis", {"limit": 0}, "limit"),
    ("/kpis", {"limit": 10_001}, "limit"),
    ("/kpis", {"limit": "ten"}, "limit"),
    ("/kpis", {"offset": -1}, "offset"),
    ("/products/top", {"max_rank": 0}, "max_rank"),
    ("/customers/ltv", {"tier": "platinum"}, "tier"),
    ("/customers/ltv", {"is_repeat": "perhaps"}, "is_repeat"),
    ("/attribution", {"model": "u_shaped"}, "model"),
    ("/attribution/summary", {"model": "FIRST_TOUCH"}, "model"),
    ("/cohorts/retention", {"start": "2026-W47"}, "start"),
    ("/products/p-1/recommendations", {"limit": -5}, "limit"),
]


@pytest.mark.parametrize(("path", "params", "named"), BAD, ids=[f"{p}?{q}" for p, q, _ in BAD])
def test_bad_input_is_a_422_that_names_the_parameter(api: httpx.Client, path, params, named):
    response = api.get(path, params=params)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and named in detail and "Traceback" not in response.text


def test_health_and_docs(api: httpx.Client, analytics: Deployment):
    health = api.get("/health").json()
    published = LocalServing(analytics.root / "serving").current()
    assert health["status"] == "ok" and health["backend"] == "duckdb"
    assert health["version"] == published.name and 0 <= health["age_seconds"] < 3600
    assert health["not_built"] == [] and "customer_ltv" in health["marts"]
    assert api.get("/docs").status_code == 200
    spec = api.get("/openapi.json").json()
    assert {"/kpis", "/products/{product_id}/recommendations", "/health", "/attribution/summary"} <= set(spec["paths"])
    assert spec["paths"]["/kpis"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"


def test_marts_not_built_yet_say_what_to_run(api_without_analytics: httpx.Client):
    for path in ("/customers/ltv", "/cohorts/retention", "/attribution/summary", "/products/p-1/recommendations"):
        response = api_without_analytics.get(path)
        assert response.status_code == 503, (path, response.text)
        assert "is not built yet (run" in response.json()["detail"]
    assert api_without_analytics.get("/kpis").status_code == 200
    assert "customer_ltv" in api_without_analytics.get("/health").json()["not_built"]


def test_nothing_published_yet(tmp_path: Path):
    with api_server(tmp_path / "empty", tmp_path / "logs") as server:
        health = httpx.get(server.url + "/health").json()
        assert health["status"] == "no_data" and "shopper demo" in health["message"]
        response = httpx.get(server.url + "/kpis")
        assert response.status_code == 503 and "shopper demo" in response.json()["detail"]
