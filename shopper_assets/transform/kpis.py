"""A day's KPI summary read from the marts, for ``shopper kpis`` and ``shopper demo``."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

MARTS_SCHEMA = "marts"
FUNNEL_STEPS = ("page_view", "product_view", "add_to_cart", "checkout", "purchase")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _rows(con, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()]


def kpi_summary(con, day: date | str, top_n: int = 5) -> dict[str, Any]:
    """The KPIs of one UTC day from the marts, or ``{}`` when kpi_daily has no row for it.

    ``con`` is anything with ``execute(sql, params)`` returning a DB-API cursor, with ``?``
    placeholders: a DuckDB connection, or a snapshot of the published marts (serving/reader.py,
    DuckDB or Postgres). The result holds ``date``, ``kpis`` (the
    kpi_daily row), ``top_categories`` and ``top_products`` (by revenue, ``top_n`` each),
    ``funnel`` (the funnel_daily row) and ``peak_hour`` (the orders_per_hour row with most orders).
    """
    if isinstance(day, str):
        day = date.fromisoformat(day)
    kpis = _rows(con, f"SELECT * FROM {MARTS_SCHEMA}.kpi_daily WHERE event_date = ?", [day])
    if not kpis:
        return {}
    categories = _rows(
        con,
        f"""SELECT category, revenue, orders, items, revenue_share
            FROM {MARTS_SCHEMA}.revenue_by_category_daily WHERE event_date = ?
            ORDER BY revenue DESC, category LIMIT ?""",
        [day, top_n],
    )
    products = _rows(
        con,
        f"""SELECT revenue_rank, product_id, category, revenue, units, orders, units_rank
            FROM {MARTS_SCHEMA}.top_products_daily WHERE event_date = ? AND revenue_rank <= ?
            ORDER BY revenue_rank""",
        [day, top_n],
    )
    funnel = _rows(con, f"SELECT * FROM {MARTS_SCHEMA}.funnel_daily WHERE event_date = ?", [day])
    peak = _rows(
        con,
        f"""SELECT hour_of_day, orders, revenue FROM {MARTS_SCHEMA}.orders_per_hour
            WHERE event_date = ? ORDER BY orders DESC, hour_of_day LIMIT 1""",
        [day],
    )
    return {
        "date": day.isoformat(),
        "kpis": kpis[0],
        "top_categories": categories,
        "top_products": products,
        "funnel": funnel[0] if funnel else {},
        "peak_hour": peak[0] if peak else {},
        "analytics": analytics_summary(con, day),
    }


#: Days of campaign performance the summary's best campaign is judged on (ending with the day).
CAMPAIGN_DAYS = 7


def _tables(con) -> set[str]:
    rows = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [MARTS_SCHEMA])
    return {r[0] for r in rows.fetchall()}


def analytics_summary(con, day: date) -> dict[str, Any]:
    """Customers, campaigns and recommendations at a glance; a mart not built yet is left out.

    ``ltv_tiers`` (customers and revenue per tier) and ``repeat_rate`` from customer_ltv;
    ``best_campaign``: the highest ROAS over the ``CAMPAIGN_DAYS`` days up to ``day`` among
    campaigns with spend (campaign_performance_daily, last touch); ``top_pair``: the pair of
    products bought together in the most orders (product_recommendations, each pair once).
    """
    built = _tables(con)
    out: dict[str, Any] = {}
    if "customer_ltv" in built:
        out["ltv_tiers"] = _rows(
            con,
            f"""SELECT ltv_tier, count(*) AS customers, sum(revenue) AS revenue, avg(orders) AS avg_orders
                FROM {MARTS_SCHEMA}.customer_ltv GROUP BY ltv_tier
                ORDER BY CASE ltv_tier WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END""",
            [],
        )
        out["repeat_rate"] = con.execute(
            f"SELECT avg(CASE WHEN is_repeat THEN 1.0 ELSE 0.0 END) FROM {MARTS_SCHEMA}.customer_ltv"
        ).fetchone()[0]
    if "campaign_performance_daily" in built:
        best = _rows(
            con,
            f"""SELECT campaign_id, sum(spend) AS spend, sum(attributed_revenue) AS attributed_revenue,
                       sum(attributed_orders) AS attributed_orders,
                       sum(attributed_revenue) / sum(spend) AS roas
                FROM {MARTS_SCHEMA}.campaign_performance_daily
                WHERE event_date > ? - INTERVAL {CAMPAIGN_DAYS} DAY AND event_date <= ?
                GROUP BY campaign_id HAVING sum(spend) > 0
                ORDER BY roas DESC, campaign_id LIMIT 1""",
            [day, day],
        )
        out["best_campaign"] = best[0] if best else {}
    if "product_recommendations" in built:
        pair = _rows(
            con,
            f"""SELECT product_id, recommended_product_id, orders_together, lift, confidence
                FROM {MARTS_SCHEMA}.product_recommendations WHERE product_id < recommended_product_id
                ORDER BY orders_together DESC, lift DESC, product_id, recommended_product_id LIMIT 1""",
            [],
        )
        out["top_pair"] = pair[0] if pair else {}
    return out


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def _money(value: Any) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


def format_kpi_summary(summary: dict[str, Any]) -> str:
    """Readable multi-line text of a :func:`kpi_summary` result."""
    if not summary:
        return "No KPIs for this day."
    k = summary["kpis"]
    lines = [
        f"KPI summary for {summary['date']} (UTC)",
        "",
        f"  Daily active users   {_num(k.get('dau')):>14}   new {_num(k.get('new_users'))}, "
        f"returning {_num(k.get('returning_users'))}",
        f"  Sessions             {_num(k.get('sessions')):>14}   conversion {_pct(k.get('conversion_rate'))}, "
        f"bounce {_pct(k.get('bounce_rate'))}, avg {_num(k.get('avg_session_duration_seconds'), 0)} s",
        f"  Orders               {_num(k.get('orders')):>14}   {_num(k.get('items'))} items, "
        f"{_num(k.get('items_per_order'), 2)} items/order",
        f"  Revenue (gross)      {_money(k.get('revenue')):>14}   AOV {_money(k.get('aov'))}",
        f"  Discounts            {_money(k.get('discount_amount')):>14}   net revenue {_money(k.get('net_revenue'))}",
    ]
    peak = summary.get("peak_hour") or {}
    if peak:
        lines.append(
            f"  Busiest hour         {peak['hour_of_day']:>11}:00   {_num(peak['orders'])} orders, "
            f"{_money(peak['revenue'])}"
        )
    if summary.get("top_categories"):
        lines += ["", "  Top categories by revenue"]
        for i, c in enumerate(summary["top_categories"], 1):
            lines.append(
                f"    {i}. {c['category']:<22} {_money(c['revenue']):>14}  {_pct(c['revenue_share']):>7}  "
                f"{_num(c['orders'])} orders"
            )
    if summary.get("top_products"):
        lines += ["", "  Top products by revenue"]
        for p in summary["top_products"]:
            lines.append(
                f"    {p['revenue_rank']}. {p['product_id']:<14} {p['category'] or '':<18} "
                f"{_money(p['revenue']):>14}  {_num(p['units'])} units"
            )
    f = summary.get("funnel") or {}
    if f:
        lines += ["", "  Session funnel"]
        previous = None
        for step in FUNNEL_STEPS:
            count = f.get(f"sessions_{step}")
            share = _pct(count / f["sessions"]) if f.get("sessions") else "n/a"
            rate = f.get(f"{step}_rate") if previous else None
            step_text = f"  step {_pct(rate)}" if rate is not None else ""
            lines.append(f"    {step:<14} {_num(count):>12}  {share:>7} of sessions{step_text}")
            previous = step
        lines.append(f"    cart abandonment {_pct(f.get('cart_abandonment_rate'))}")
    lines += _format_analytics(summary.get("analytics") or {})
    return "\n".join(lines)


def _format_analytics(a: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if a.get("ltv_tiers"):
        lines += ["", "  Customers (all history)"]
        for t in a["ltv_tiers"]:
            lines.append(
                f"    {t['ltv_tier']:<7} LTV tier {_num(t['customers']):>10} customers  {_money(t['revenue']):>14}  "
                f"{_num(t['avg_orders'], 2)} orders each"
            )
        lines.append(f"    repeat customers {_pct(a.get('repeat_rate')):>8} (two or more orders)")
    if "best_campaign" in a:
        c = a["best_campaign"]
        lines += ["", f"  Best campaign by ROAS (last {CAMPAIGN_DAYS} days, last touch)"]
        lines.append(
            f"    {c['campaign_id']}  ROAS {_num(c['roas'], 2)}  spend {_money(c['spend'])}, "
            f"{_num(c['attributed_orders'])} orders, {_money(c['attributed_revenue'])}"
            if c
            else "    no campaign with spend in these days"
        )
    if "top_pair" in a:
        p = a["top_pair"]
        lines += ["", "  Most bought together"]
        lines.append(
            f"    {p['product_id']} + {p['recommended_product_id']}  in {_num(p['orders_together'])} orders, "
            f"lift {_num(p['lift'], 1)}"
            if p
            else "    no pair bought together often enough yet"
        )
    return lines
