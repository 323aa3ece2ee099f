"""The KPI marts equal an independent pandas computation over the same cleaned events."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.transform import reference
from tests.transform.conftest import days
from tests.transform.helpers import assert_matches


def table(con, name: str) -> pd.DataFrame:
    return con.execute(f"SELECT * FROM marts.{name}").df()


@pytest.fixture(scope="module")
def marts(built_db):
    import duckdb

    path, _ = built_db
    with duckdb.connect(str(path), read_only=True) as con:
        yield {
            name: table(con, name)
            for name in (
                "kpi_daily",
                "revenue_by_category_daily",
                "top_products_daily",
                "orders_per_hour",
                "funnel_daily",
            )
        }


def _dates(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["event_date"] = pd.to_datetime(df["event_date"]).dt.date
    return df


def test_kpi_daily(marts, events_df):
    actual = _dates(marts["kpi_daily"])
    expected = _dates(reference.kpi_daily(events_df))
    assert sorted(actual.event_date) == days()
    assert_matches(
        actual,
        expected,
        keys=["event_date"],
        exact=[
            "dau",
            "new_users",
            "returning_users",
            "sessions",
            "events",
            "orders",
            "order_lines",
            "items",
            "converted_sessions",
            "bounced_sessions",
        ],
        money={"revenue": "revenue_cents", "discount_amount": "discount_cents", "net_revenue": "net_cents"},
        ratios=["aov", "items_per_order", "conversion_rate", "bounce_rate", "avg_session_duration_seconds"],
    )
    # sanity: the generated days have real traffic and sales
    assert (actual.orders > 0).all() and (actual.dau > 100).all()


def test_revenue_by_category_daily(marts, events_df):
    assert_matches(
        _dates(marts["revenue_by_category_daily"]),
        _dates(reference.revenue_by_category_daily(events_df)),
        keys=["event_date", "category"],
        exact=["orders", "order_lines", "items"],
        money={"revenue": "revenue_cents", "discount_amount": "discount_cents", "net_revenue": "net_cents"},
        ratios=["revenue_share"],
    )


def test_top_products_daily(marts, events_df):
    assert_matches(
        _dates(marts["top_products_daily"]),
        _dates(reference.top_products_daily(events_df)),
        keys=["event_date", "product_id"],
        exact=["orders", "units", "revenue_rank", "units_rank"],
        money={"revenue": "revenue_cents"},
        ratios=[],
    )


def test_orders_per_hour(marts, events_df):
    actual = marts["orders_per_hour"].copy()
    actual["event_hour"] = pd.to_datetime(actual["event_hour"])
    expected = reference.orders_per_hour(events_df)
    expected["event_hour"] = pd.to_datetime(expected["event_hour"])
    assert len(actual) == 24 * len(days())
    assert_matches(
        actual, expected, keys=["event_hour"], exact=["orders", "items"], money={"revenue": "revenue_cents"}, ratios=[]
    )


def test_funnel_daily(marts, events_df):
    steps = list(reference.FUNNEL)
    assert_matches(
        _dates(marts["funnel_daily"]),
        _dates(reference.funnel_daily(events_df)),
        keys=["event_date"],
        exact=["sessions", *[f"sessions_{s}" for s in steps]],
        money={},
        ratios=[*[f"{s}_rate" for s in steps[1:]], "overall_conversion_rate", "cart_abandonment_rate"],
    )
