"""The questions readers ask the published marts, written once for the API and the dashboard.

Every function takes a :class:`~shopper_assets.serving.reader.Snapshot`, so one page or one
response reads one version, and returns plain rows (dicts). Column names come from this code,
never from a request; values are always bound parameters.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from shopper_assets.serving.marts import SCHEMA, SERVED, not_built_message
from shopper_assets.serving.reader import Snapshot


class MartMissing(LookupError):
    """The mart is not in the published version (not built yet)."""

    def __init__(self, mart: str):
        super().__init__(not_built_message(mart))
        self.mart = mart


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _order(spec: str) -> str:
    column, _, direction = spec.partition(" ")
    return f"{_quote(column)} {direction}".strip()


def require(snapshot: Snapshot, mart: str) -> None:
    if not snapshot.has(mart):
        raise MartMissing(mart)


def select_mart(
    snapshot: Snapshot,
    mart: str,
    *,
    start: date | None = None,
    end: date | None = None,
    equals: dict[str, Any] | None = None,
    at_most: dict[str, Any] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Rows of a mart: its date column in [start, end] (inclusive), columns equal to / at most the
    given values (None: no filter), in the mart's order, ``limit`` rows from ``offset``."""
    spec = SERVED[mart]
    require(snapshot, mart)
    where, params = [], []
    if start is not None:
        where.append(f"{_quote(spec.date_column)} >= ?")
        params.append(start)
    if end is not None:
        where.append(f"{_quote(spec.date_column)} <= ?")
        params.append(end)
    for column, value in (equals or {}).items():
        if value is not None:
            where.append(f"{_quote(column)} = ?")
            params.append(value)
    for column, value in (at_most or {}).items():
        if value is not None:
            where.append(f"{_quote(column)} <= ?")
            params.append(value)
    sql = f"SELECT * FROM {SCHEMA}.{_quote(mart)}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY " + ", ".join(_order(o) for o in spec.order_by)
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    return snapshot.rows(sql, params)


def date_bounds(snapshot: Snapshot, mart: str = "kpi_daily") -> tuple[date | None, date | None]:
    """First and last day a dated mart has rows for."""
    spec = SERVED[mart]
    require(snapshot, mart)
    column = _quote(spec.date_column)
    (first, last), *_ = snapshot.execute(f"SELECT min({column}), max({column}) FROM {SCHEMA}.{_quote(mart)}").fetchall()
    return first, last


def product_known(snapshot: Snapshot, product_id: str) -> bool:
    """Whether the product exists: in dim_products, or (without it) among the recommendations."""
    mart = "dim_products" if snapshot.has("dim_products") else "product_recommendations"
    require(snapshot, mart)
    rows = snapshot.execute(f"SELECT 1 FROM {SCHEMA}.{mart} WHERE product_id = ? LIMIT 1", [product_id]).fetchall()
    return bool(rows)


def attribution_summary(snapshot: Snapshot, model: str | None = None) -> list[dict[str, Any]]:
    """Per attribution model and campaign: orders credited, credit and attributed revenue."""
    require(snapshot, "order_attribution")
    where, params = ("WHERE model = ?", [model]) if model else ("", [])
    return snapshot.rows(
        f"""SELECT model, campaign_id, count(DISTINCT order_id) AS orders, sum(credit) AS credit,
                   sum(attributed_revenue) AS attributed_revenue
            FROM {SCHEMA}.order_attribution {where}
            GROUP BY model, campaign_id
            ORDER BY model, attributed_revenue DESC, campaign_id""",
        params,
    )


def ltv_tiers(snapshot: Snapshot) -> list[dict[str, Any]]:
    """Customers, repeat customers and revenue per LTV tier."""
    require(snapshot, "customer_ltv")
    return snapshot.rows(
        f"""SELECT ltv_tier, count(*) AS customers,
                   sum(CASE WHEN is_repeat THEN 1 ELSE 0 END) AS repeat_customers,
                   sum(revenue) AS revenue
            FROM {SCHEMA}.customer_ltv GROUP BY ltv_tier ORDER BY revenue DESC"""
    )
