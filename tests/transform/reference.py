"""Independent pandas computation of the KPI marts from the cleaned events (see kpi.yml).

Money is summed in integer cents, so sums and revenue ties are exact.
"""

from __future__ import annotations

import itertools

import pandas as pd

FUNNEL = {"page_view": 1, "product_view": 2, "add_to_cart": 3, "checkout": 4, "purchase": 5}


def purchases(df: pd.DataFrame) -> pd.DataFrame:
    p = df[df.event_type == "purchase"].copy()
    p["gross_cents"] = p.price_cents * p.quantity.astype("int64")
    p["net_cents"] = p.gross_cents - p.discount_cents
    return p


def session_days(df: pd.DataFrame) -> pd.DataFrame:
    d = df.assign(
        step=df.event_type.map(FUNNEL).fillna(0).astype(int),
        is_purchase=df.event_type == "purchase",
        is_page_view=df.event_type == "page_view",
        is_ad=df.event_type.isin(["ad_impression", "ad_click"]),
    )
    g = d.groupby(["event_date", "session_id"])
    out = g.agg(
        events=("event_id", "size"),
        page_views=("is_page_view", "sum"),
        ad_events=("is_ad", "sum"),
        purchases=("is_purchase", "sum"),
        first=("event_time", "min"),
        last=("event_time", "max"),
        max_step=("step", "max"),
    ).reset_index()
    out["duration"] = (out["last"] - out["first"]).dt.total_seconds()
    out["bounced"] = (out.events - out.ad_events == 1) & (out.page_views == 1)  # ad events aside
    return out


def kpi_daily(df: pd.DataFrame) -> pd.DataFrame:
    by_day = df.groupby("event_date")
    k = pd.DataFrame(
        {
            "dau": by_day.user_id.nunique(),
            "new_users": df[df.user_type == "new"].groupby("event_date").user_id.nunique(),
            "sessions": by_day.session_id.nunique(),
            "events": by_day.size(),
        }
    ).fillna({"new_users": 0})
    k["returning_users"] = k.dau - k.new_users
    p = purchases(df).groupby("event_date")
    k["orders"] = p.order_id.nunique()
    k["order_lines"] = p.size()
    k["items"] = p.quantity.sum()
    k["revenue_cents"] = p.gross_cents.sum()
    k["discount_cents"] = p.discount_cents.sum()
    k["net_cents"] = p.net_cents.sum()
    k = k.fillna(0)
    k["aov"] = k.revenue_cents / 100 / k.orders
    k["items_per_order"] = k["items"] / k.orders
    s = session_days(df).groupby("event_date")
    k["converted_sessions"] = s.purchases.apply(lambda x: int((x > 0).sum()))
    k["conversion_rate"] = k.converted_sessions / k.sessions
    k["bounced_sessions"] = s.bounced.sum()
    k["bounce_rate"] = k.bounced_sessions / k.sessions
    k["avg_session_duration_seconds"] = s.duration.mean()
    return k.reset_index()


def revenue_by_category_daily(df: pd.DataFrame) -> pd.DataFrame:
    g = purchases(df).groupby(["event_date", "category"])
    out = pd.DataFrame(
        {
            "orders": g.order_id.nunique(),
            "order_lines": g.size(),
            "items": g.quantity.sum(),
            "revenue_cents": g.gross_cents.sum(),
            "discount_cents": g.discount_cents.sum(),
            "net_cents": g.net_cents.sum(),
        }
    ).reset_index()
    out["revenue_share"] = out.revenue_cents / out.groupby("event_date").revenue_cents.transform("sum")
    return out


def top_products_daily(df: pd.DataFrame) -> pd.DataFrame:
    g = purchases(df).groupby(["event_date", "product_id"])
    out = pd.DataFrame(
        {
            "orders": g.order_id.nunique(),
            "units": g.quantity.sum(),
            "revenue_cents": g.gross_cents.sum(),
        }
    ).reset_index()
    by_revenue = out.sort_values(["event_date", "revenue_cents", "product_id"], ascending=[True, False, True])
    out["revenue_rank"] = by_revenue.groupby("event_date").cumcount().reindex(out.index) + 1
    by_units = out.sort_values(["event_date", "units", "product_id"], ascending=[True, False, True])
    out["units_rank"] = by_units.groupby("event_date").cumcount().reindex(out.index) + 1
    return out


def orders_per_hour(df: pd.DataFrame) -> pd.DataFrame:
    hours = pd.DataFrame(
        {
            "event_hour": [
                pd.Timestamp(day) + pd.Timedelta(hours=h) for day in sorted(df.event_date.unique()) for h in range(24)
            ]
        }
    )
    g = purchases(df).groupby("event_hour")
    counts = pd.DataFrame(
        {"orders": g.order_id.nunique(), "items": g.quantity.sum(), "revenue_cents": g.gross_cents.sum()}
    ).reset_index()
    return hours.merge(counts, on="event_hour", how="left").fillna(0)


def funnel_daily(df: pd.DataFrame) -> pd.DataFrame:
    s = session_days(df)
    rows = []
    for day, g in s.groupby("event_date"):
        row = {"event_date": day, "sessions": len(g)}
        for step, i in FUNNEL.items():
            row[f"sessions_{step}"] = int((g.max_step >= i).sum())
        rows.append(row)
    out = pd.DataFrame(rows)
    steps = list(FUNNEL)
    for prev, step in itertools.pairwise(steps):
        out[f"{step}_rate"] = out[f"sessions_{step}"] / out[f"sessions_{prev}"]
    out["overall_conversion_rate"] = out.sessions_purchase / out.sessions_page_view
    out["cart_abandonment_rate"] = (out.sessions_add_to_cart - out.sessions_purchase) / out.sessions_add_to_cart
    return out
