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

from shopper_assets.serving.api import MAX_LIMIT
from shopper_assets.serving.local import LocalServing
from shopper_assets.serving.marts import ATTRIBUTION_MODELS, SERVED
from tests.serving.conftest import DAYS, WHOLE_HISTORY, Deployment
from tests.serving.servers import api_server

pytestmark = pytest.mark.slow


def jsonable(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def mart(dep: Deployment, sql: str, params: list | None = None) -> list[dict]:
    """Rows straight from the warehouse (every column, the model's extra ones too), as the API's JSON
    would carry them."""
    with duckdb.connect(str(dep.warehouse), read_only=True) as con:
        cur = con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [{n: jsonable(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()]


@pytest.fixture(scope="module")
def api(demo: Deployment, tmp_path_factory):
    with api_server(demo.root, tmp_path_factory.mktemp("api-logs")) as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield client
        assert "Traceback" not in server.output()


@pytest.fixture(scope="module")
def api_partial(partial: Deployment, tmp_path_factory):
    logs = tmp_path_factory.mktemp("api-partial-logs")
    with api_server(partial.root, logs) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield client
        assert "Traceback" not in server.output()


FIRST, SECOND, LAST = (d.isoformat() for d in (DAYS[0], DAYS[1], DAYS[-1]))


def q(mart: str, where: str = "true", order: str = "1") -> str:
    return f"SELECT * FROM marts.{mart} WHERE {where} ORDER BY {order}"


ENDPOINTS = [  # path, params, the mart's rows in the API's order
    ("/kpis", {"start": FIRST, "end": LAST}, q("kpi_daily", order="event_date")),
    ("/kpis", {"start": SECOND, "end": SECOND}, q("kpi_daily", f"event_date = '{SECOND}'")),
    (
        "/revenue/categories",
        {"start": FIRST, "end": FIRST, "category": "electronics"},
        q("revenue_by_category_daily", f"event_date = '{FIRST}' AND category = 'electronics'"),
    ),
    (
        "/products/top",
        {"start": FIRST, "end": SECOND, "max_rank": 3},
        q(
            "top_products_daily",
            f"event_date BETWEEN '{FIRST}' AND '{SECOND}' AND revenue_rank <= 3",
            "event_date, revenue_rank, product_id",
        ),
    ),
    ("/orders/hourly", {"start": SECOND, "end": SECOND}, q("orders_per_hour", f"event_date = '{SECOND}'")),
    ("/funnel", {}, q("funnel_daily", order="event_date")),
    ("/customers/ltv", {}, q("customer_ltv", order="revenue DESC, user_id")),
    ("/customers/ltv", {"tier": "low"}, q("customer_ltv", "ltv_tier = 'low'", "revenue DESC, user_id")),
    ("/customers/ltv", {"is_repeat": "true"}, q("customer_ltv", "is_repeat", "revenue DESC, user_id")),
    ("/cohorts/retention", {}, q("cohort_retention", order="cohort_week, weeks_since")),
    (
        "/cohorts/retention",
        {"start": "2026-10-26"},
        q("cohort_retention", "cohort_week >= '2026-10-26'", "cohort_week, weeks_since"),
    ),
    ("/revenue/monthly", {}, q("revenue_monthly")),
    ("/revenue/monthly", {"start": "2026-11-01"}, q("revenue_monthly", "month >= '2026-11-01'")),
    ("/revenue/weekday", {}, q("revenue_by_weekday", order="weekday")),
    ("/brands/top", {"start": LAST, "max_rank": 1}, q("top_brands_daily", f"event_date = '{LAST}' AND rank = 1")),
    ("/brands/top", {"end": FIRST}, q("top_brands_daily", f"event_date <= '{FIRST}'", "event_date, rank")),
    ("/cart-abandonment", {"end": SECOND}, q("cart_abandonment_daily", f"event_date <= '{SECOND}'")),
    (
        "/campaigns/performance",
        {"campaign_id": "cmp-03"},
        q("campaign_performance_daily", "campaign_id = 'cmp-03'", "event_date"),
    ),
    (
        "/campaigns/performance",
        {"start": LAST, "end": LAST},
        q("campaign_performance_daily", f"event_date = '{LAST}'", "campaign_id"),
    ),
    (
        "/attribution",
        {"model": "linear", "limit": MAX_LIMIT},  # every row of the model (more than the default page)
        q("order_attribution", "model = 'linear'", "order_id, model, campaign_id"),
    ),
    (
        "/attribution",
        {"model": "position_based", "campaign_id": "cmp-01"},
        q("order_attribution", "model = 'position_based' AND campaign_id = 'cmp-01'", "order_id"),
    ),
]


@pytest.mark.parametrize(("path", "params", "sql"), ENDPOINTS, ids=[f"{p}?{q}" for p, q, _ in ENDPOINTS])
def test_endpoint_rows_equal_the_mart(api: httpx.Client, demo: Deployment, path, params, sql):
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    expected = mart(demo, sql)
    assert expected, "the case must select rows"
    assert response.json() == expected
    published = LocalServing(demo.root / "serving").current()
    assert response.headers["X-Published-Version"] == published.name


def test_attribution_models_side_by_side(api: httpx.Client, demo: Deployment):
    rows = api.get("/attribution/summary").json()
    expected = {}
    credits = demo.sql("SELECT order_id, model, campaign_id, credit, attributed_revenue FROM marts.order_attribution")
    for order, model, campaign, credit, revenue in credits:
        entry = expected.setdefault((model, campaign), {"orders": set(), "credit": 0.0, "revenue": 0.0})
        entry["orders"].add(order)
        entry["credit"] += credit
        entry["revenue"] += revenue
    assert {(r["model"], r["campaign_id"]) for r in rows} == set(expected)
    for r in rows:
        want = expected[(r["model"], r["campaign_id"])]
        assert r["orders"] == len(want["orders"])
        assert r["credit"] == pytest.approx(want["credit"])
        assert r["attributed_revenue"] == pytest.approx(want["revenue"])
    # each model credits every order exactly once in total, campaigns and (none)
    ((orders,),) = demo.sql("SELECT count(*) FROM marts.fct_orders")
    for model in ATTRIBUTION_MODELS:
        assert sum(r["credit"] for r in rows if r["model"] == model) == pytest.approx(orders)
    assert api.get("/attribution/summary", params={"model": "linear"}).json() == [
        r for r in rows if r["model"] == "linear"
    ]


def test_the_credits_of_one_order(api: httpx.Client, demo: Deployment):
    """An order several campaigns touched: every model's credits, summing to 1 per model."""
    ((order,),) = demo.sql(
        """SELECT order_id FROM marts.order_attribution WHERE model = 'linear'
           GROUP BY order_id HAVING count(*) >= 2 ORDER BY order_id LIMIT 1"""
    )
    rows = api.get("/attribution", params={"order_id": order}).json()
    assert rows == mart(demo, q("order_attribution", "order_id = ?", "model, campaign_id"), [order])
    assert {r["model"] for r in rows} == set(ATTRIBUTION_MODELS)
    for model in ATTRIBUTION_MODELS:
        assert sum(r["credit"] for r in rows if r["model"] == model) == pytest.approx(1.0)


def test_recommendations_of_a_product_and_unknown_products(api: httpx.Client, demo: Deployment):
    ((product, listed),) = demo.sql(
        """SELECT product_id, count(*) FROM marts.product_recommendations
           GROUP BY product_id ORDER BY 2 DESC, 1 LIMIT 1"""
    )
    assert listed >= 2, "the demo must recommend at least two products for one"
    expected = mart(demo, q("product_recommendations", "product_id = ?", "rank"), [product])
    response = api.get(f"/products/{product}/recommendations", params={"limit": listed - 1})
    assert response.status_code == 200
    assert response.json() == expected[:-1] and 'rel="next"' in response.headers["Link"]
    assert api.get(f"/products/{product}/recommendations").json() == expected
    assert [r["rank"] for r in expected] == list(range(1, listed + 1))

    unknown = api.get("/products/p-does-not-exist/recommendations")
    assert unknown.status_code == 404 and "p-does-not-exist" in unknown.json()["detail"]
    ((other,),) = demo.sql(
        """SELECT product_id FROM marts.dim_products
           WHERE product_id NOT IN (SELECT product_id FROM marts.product_recommendations) ORDER BY 1 LIMIT 1"""
    )
    known_without = api.get(f"/products/{other}/recommendations")  # a product with none: empty, not 404
    assert known_without.status_code == 200 and known_without.json() == []


def test_one_customer_and_an_unknown_one(api: httpx.Client, demo: Deployment):
    ((user,),) = demo.sql("SELECT user_id FROM marts.customer_ltv WHERE is_repeat ORDER BY revenue DESC LIMIT 1")
    response = api.get(f"/customers/{user}/ltv")
    assert response.json() == mart(demo, "SELECT * FROM marts.customer_ltv WHERE user_id = ?", [user])[0]
    assert response.json()["orders"] >= 2
    missing = api.get("/customers/nobody/ltv")
    assert missing.status_code == 404 and "nobody" in missing.json()["detail"]


def test_pages_follow_the_link_header(api: httpx.Client, demo: Deployment):
    everything = api.get("/orders/hourly").json()
    assert len(everything) == 24 * len(demo.days)
    collected, url = [], "/orders/hourly?limit=50"
    while url:
        response = api.get(url)
        collected += response.json()
        link = response.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
    assert collected == everything == mart(demo, "SELECT * FROM marts.orders_per_hour ORDER BY event_hour")
    last = len(everything) - 5
    assert api.get("/orders/hourly", params={"limit": 10, "offset": last}).json() == everything[last:]


BAD = [
    ("/kpis", {"start": "2026-13-01"}, "start"),
    ("/kpis", {"start": "yesterday"}, "start"),
    ("/kpis", {"end": "2026-02-30"}, "end"),
    ("/kpis", {"start": SECOND, "end": FIRST}, "start"),
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


def test_health_and_docs(api: httpx.Client, demo: Deployment):
    health = api.get("/health").json()
    published = LocalServing(demo.root / "serving").current()
    assert health["status"] == "ok" and health["backend"] == "duckdb"
    assert health["version"] == published.name and 0 <= health["age_seconds"] < 3600
    assert health["not_built"] == [] and health["marts"] == sorted(SERVED)  # the demo builds every mart
    assert api.get("/docs").status_code == 200
    spec = api.get("/openapi.json").json()
    assert {"/kpis", "/products/{product_id}/recommendations", "/health", "/attribution/summary"} <= set(spec["paths"])
    assert spec["paths"]["/kpis"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"


NOT_BUILT = [  # path, the mart it needs
    ("/customers/ltv", "customer_ltv"),
    ("/customers/u-0000001/ltv", "customer_ltv"),
    ("/cohorts/retention", "cohort_retention"),
    ("/revenue/monthly", "revenue_monthly"),
    ("/revenue/weekday", "revenue_by_weekday"),
    ("/products/p-000001/recommendations", "product_recommendations"),
    ("/campaigns/performance", "campaign_performance_daily"),
    ("/attribution", "order_attribution"),
    ("/attribution/summary", "order_attribution"),
]


def test_marts_not_built_yet_say_what_to_run(api_partial: httpx.Client, partial: Deployment):
    assert {mart for _, mart in NOT_BUILT} == set(partial.not_built)
    for path, mart in NOT_BUILT:
        response = api_partial.get(path)
        assert response.status_code == 503, (path, response.text)
        body = response.json()
        assert body["mart"] == mart and f"{mart} is not built yet (run" in body["detail"]
        assert ("whole-history marts" in body["detail"]) == (mart in WHOLE_HISTORY), body["detail"]
    for path in ("/kpis", "/brands/top", "/cart-abandonment", "/funnel"):  # the marts it has
        response = api_partial.get(path)
        assert response.status_code == 200 and response.json(), path
    health = api_partial.get("/health").json()
    assert health["status"] == "ok" and health["not_built"] == sorted(partial.not_built)


def test_nothing_published_yet(tmp_path: Path):
    with api_server(tmp_path / "empty", tmp_path / "logs") as server:
        health = httpx.get(server.url + "/health").json()
        assert health["status"] == "no_data" and "shopper demo" in health["message"]
        response = httpx.get(server.url + "/kpis")
        assert response.status_code == 503 and "shopper demo" in response.json()["detail"]
