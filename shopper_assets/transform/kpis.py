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
    }


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
    return "\n".join(lines)
