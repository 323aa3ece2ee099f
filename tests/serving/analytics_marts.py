"""Hand-written analytics marts (CONTRACT.md "Analytics marts", contract columns, known values).

Their dbt models are built on another branch; until they are merged, the serving tests create the
tables themselves so the API endpoints and dashboard pages that read them run on real tables, with
values small enough to check by hand. ``create(con, days, product_ids)`` writes them into the
``marts`` schema of a DuckDB warehouse (or, with ``pg=True``, of Postgres through psycopg).
"""

from __future__ import annotations

from datetime import date, timedelta

MODELS = ("first_touch", "last_touch", "linear", "position_based")

DDL = {
    "customer_ltv": "user_id VARCHAR, first_order_date DATE, last_order_date DATE, orders BIGINT, "
    "revenue DECIMAL(38,2), is_repeat BOOLEAN, ltv_tier VARCHAR",
    "cohort_retention": "cohort_week DATE, weeks_since INTEGER, cohort_users BIGINT, active_users BIGINT, "
    "retention_rate DOUBLE",
    "revenue_monthly": "month DATE, revenue DECIMAL(38,2), orders BIGINT, mom_growth DOUBLE",
    "revenue_by_weekday": "weekday INTEGER, revenue DECIMAL(38,2), orders BIGINT",
    "top_brands_daily": "event_date DATE, brand VARCHAR, revenue DECIMAL(38,2), orders BIGINT, rank BIGINT",
    "cart_abandonment_daily": "event_date DATE, carts BIGINT, abandoned_carts BIGINT, abandonment_rate DOUBLE",
    "campaign_performance_daily": "event_date DATE, campaign_id VARCHAR, impressions BIGINT, clicks BIGINT, "
    "ctr DOUBLE, spend DECIMAL(18,2), cpc DOUBLE, attributed_orders DOUBLE, attributed_revenue DECIMAL(38,2), "
    "cpa DOUBLE, roas DOUBLE",
    "order_attribution": "order_id VARCHAR, model VARCHAR, campaign_id VARCHAR, credit DOUBLE, "
    "attributed_revenue DECIMAL(38,2)",
    "product_recommendations": "product_id VARCHAR, recommended_product_id VARCHAR, rank BIGINT, "
    "orders_together BIGINT, support DOUBLE, confidence DOUBLE, lift DOUBLE",
}


def rows(days: list[date], products: list[str]) -> dict[str, list[tuple]]:
    """The marts' rows for the given days (dated marts) and products (recommendations)."""
    d0 = days[0]
    monday = d0 - timedelta(days=d0.weekday())
    out: dict[str, list[tuple]] = {
        "customer_ltv": [
            ("u-high", d0, days[-1], 3, "900.00", True, "high"),
            ("u-medium", d0, days[-1], 2, "300.50", True, "medium"),
            ("u-low-1", d0, d0, 1, "40.25", False, "low"),
            ("u-low-2", days[-1], days[-1], 1, "19.99", False, "low"),
        ],
        "cohort_retention": [
            (monday, 0, 40, 40, 1.0),
            (monday, 1, 40, 10, 0.25),
            (monday, 2, 40, 6, 0.15),
            (monday + timedelta(days=7), 0, 30, 30, 1.0),
            (monday + timedelta(days=7), 1, 30, 9, 0.3),
        ],
        "revenue_monthly": [(date(2026, 10, 1), "1000.00", 10, None), (date(2026, 11, 1), "1500.00", 12, 0.5)],
        "revenue_by_weekday": [(w, f"{100 * w}.00", w) for w in range(1, 8)],
        "top_brands_daily": [],
        "cart_abandonment_daily": [],
        "campaign_performance_daily": [],
        "order_attribution": [],
        "product_recommendations": [],
    }
    for i, day in enumerate(days):
        out["top_brands_daily"] += [(day, "acme", f"{500 + i}.00", 5 + i, 1), (day, "zenith", f"{200 + i}.00", 2, 2)]
        out["cart_abandonment_daily"].append((day, 100 + i, 60 + i, (60 + i) / (100 + i)))
        for c, campaign in enumerate(("cmp-a", "cmp-b")):
            impressions, clicks, spend = 1000 * (c + 1), 50 * (c + 1) + i, f"{25 * (c + 1)}.00"
            orders, revenue = 2.0 + c, f"{150 * (c + 1) + i}.00"
            out["campaign_performance_daily"].append(
                (day, campaign, impressions, clicks, clicks / impressions, spend, float(spend) / clicks, orders,
                 revenue, float(spend) / orders, float(revenue) / float(spend))
            )  # fmt: skip
    credits = {  # order -> campaigns touched, first to last
        "o-1": ["cmp-a"],
        "o-2": ["cmp-a", "cmp-b"],
        "o-3": ["(none)"],
    }
    revenue = {"o-1": 100.0, "o-2": 200.0, "o-3": 50.0}
    for order, touches in credits.items():
        for model in MODELS:
            shares = _shares(model, len(touches))
            for campaign, share in zip(touches, shares, strict=True):
                out["order_attribution"].append((order, model, campaign, share, f"{revenue[order] * share:.2f}"))
    first = products[0]
    for rank, other in enumerate(products[1:4], start=1):
        row = (first, other, rank, 10 - rank, 0.01 * (5 - rank), 0.2 / rank, 3.0 / rank)
        out["product_recommendations"].append(row)
    return out


def _shares(model: str, touches: int) -> list[float]:
    if touches == 1:
        return [1.0]
    if model == "first_touch":
        return [1.0] + [0.0] * (touches - 1)
    if model == "last_touch":
        return [0.0] * (touches - 1) + [1.0]
    return [1.0 / touches] * touches  # linear, and position_based with two touches (40/40 -> halves)


def create(con, days: list[date], products: list[str], pg: bool = False) -> dict[str, list[tuple]]:
    """Create (replace) the marts on ``con`` (DuckDB connection, or psycopg with ``pg``); returns their rows."""
    data = rows(days, products)
    mark = "%s" if pg else "?"
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    for name, columns in DDL.items():
        con.execute(f"DROP TABLE IF EXISTS marts.{name}")
        ddl = columns.replace("VARCHAR", "text").replace("DOUBLE", "double precision") if pg else columns
        con.execute(f"CREATE TABLE marts.{name} ({ddl})")
        if data[name]:
            width = len(data[name][0])
            insert = f"INSERT INTO marts.{name} VALUES ({', '.join([mark] * width)})"
            if pg:
                con.cursor().executemany(insert, data[name])
            else:
                con.executemany(insert, data[name])
    return data
