"""dbt build passes; day-by-day incremental runs equal a full build; a late event moves one day."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import duckdb
import pandas as pd
import pytest

from shopper_assets.transform import DbtBuildConfig, dbt_build_args, dbt_build_command
from tests.transform.conftest import copy_warehouse, days, run_dbt
from tests.transform.helpers import assert_same_table, snapshot

DAILY_MARTS = (
    "marts.kpi_daily",
    "marts.revenue_by_category_daily",
    "marts.top_products_daily",
    "marts.top_brands_daily",
    "marts.orders_per_hour",
    "marts.funnel_daily",
)
WHOLE_HISTORY_MARTS = (
    "marts.customer_ltv",
    "marts.cohort_retention",
    "marts.revenue_monthly",
    "marts.revenue_by_weekday",
    "marts.product_recommendations",
)
# the data-quality marts (empty here: nothing scored the loaded days, see tests/operations)
DATA_QUALITY_MARTS = ("marts.dq_score_daily", "marts.dq_losses_daily")
EXPECTED_TABLES = {
    "intermediate.int_session_days",
    "intermediate.int_user_days",
    "intermediate.int_product_days",
    "intermediate.int_campaign_days",
    "intermediate.int_campaign_touches",
    "marts.cart_abandonment_daily",
    "marts.order_attribution",
    "marts.campaign_performance_daily",
    *WHOLE_HISTORY_MARTS,
    "marts.dim_users",
    "marts.dim_products",
    "marts.dim_categories",
    "marts.dim_dates",
    "marts.dim_campaigns",
    "marts.fct_events",
    "marts.fct_orders",
    "marts.fct_order_items",
    "marts.fct_sessions",
    *DAILY_MARTS,
    *DATA_QUALITY_MARTS,
}


def day_args(day: dt.date, **config) -> list[str]:
    return dbt_build_args((day, day + dt.timedelta(days=1)), DbtBuildConfig(**config))


def test_dbt_build_passes_its_tests(built_db, connect):
    path, results = built_db
    tests = [r for r in results if r["unique_id"].startswith("test.")]
    models = [r for r in results if r["unique_id"].startswith("model.")]
    assert len(models) == 32 and len(tests) >= 100  # 30, and the 2 data-quality marts
    assert all(r["status"] == "pass" for r in tests)
    names = {r["unique_id"].split(".")[2] for r in tests}
    assert {"assert_revenue_reconciles", "assert_funnel_matches_kpi", "assert_attribution_credits_sum_to_one"} <= names
    assert any(n.startswith("monotonic_non_increasing_funnel_daily") for n in names)
    con = connect(path)
    schemas = {r[0] for r in con.execute("SELECT DISTINCT table_schema FROM information_schema.tables").fetchall()}
    assert {"lake", "staging", "intermediate", "marts"} <= schemas
    assert not any(s.startswith("main_") for s in schemas)
    assert set(snapshot(path)) == EXPECTED_TABLES
    # sessions cross midnight in the generated data, so the lookback is exercised
    crossing = con.execute("SELECT count(*) FROM marts.fct_sessions WHERE days_spanned > 1").fetchone()[0]
    assert crossing > 0


def test_incremental_day_runs_equal_full_build(lake_db, built_db, tmp_path):
    """From an empty warehouse, one run per day (then a re-run of the middle day, after the next
    day exists) gives exactly the tables of a full build."""
    full_path, _ = built_db
    inc = copy_warehouse(lake_db, tmp_path / "inc" / "shopper.duckdb")
    for day in [*days(), days()[1]]:
        run_dbt(inc, day_args(day))
    full, incremental = snapshot(full_path), snapshot(inc)
    assert set(full) == set(incremental) == EXPECTED_TABLES
    for name in sorted(full):
        assert_same_table(name, full[name], incremental[name])


def add_late_purchase(path, day: dt.date, n: int) -> tuple[str, Decimal]:
    """A copy of a purchase line of `day` as a new order of 3 units, delivered hours late."""
    with duckdb.connect(str(path)) as con:
        row = con.execute(
            """SELECT event_id, price FROM lake.cleaned_events
               WHERE event_type = 'purchase' AND CAST(event_time AS DATE) = ? ORDER BY event_id LIMIT 1""",
            [day],
        ).fetchone()
        con.execute(
            f"""INSERT INTO lake.cleaned_events
                SELECT * REPLACE ('late-event-{n}' AS event_id, 'late-order-{n}' AS order_id, 3 AS quantity,
                                  CAST(NULL AS DECIMAL(18,2)) AS discount_amount, NULL AS discount_code,
                                  event_hour + INTERVAL 5 HOUR AS _landing_hour, 'late.jsonl.gz' AS _source_file,
                                  'part-late-{n}.parquet' AS _lake_part)
                FROM lake.cleaned_events WHERE event_id = ?""",
            [row[0]],
        )
    return row


def assert_only_day_changed(before, after, day: dt.date) -> None:
    for name in DAILY_MARTS:
        b, a = before[name], after[name]
        b_day, a_day = pd.to_datetime(b.event_date).dt.date == day, pd.to_datetime(a.event_date).dt.date == day
        assert b_day.any() and a_day.any()
        assert_same_table(name, b[~b_day].reset_index(drop=True), a[~a_day].reset_index(drop=True))
        if name != "marts.funnel_daily":  # same sessions reach the same steps
            assert not b[b_day].reset_index(drop=True).equals(a[a_day].reset_index(drop=True)), name


def test_late_event_changes_only_its_day(built_db, tmp_path):
    path = copy_warehouse(built_db[0], tmp_path / "late" / "shopper.duckdb")
    day = days()[1]
    before = snapshot(path, list(DAILY_MARTS))
    row = add_late_purchase(path, day, 1)
    run_dbt(path, day_args(day))
    after = snapshot(path, list(DAILY_MARTS))
    assert_only_day_changed(before, after, day)
    kb = before["marts.kpi_daily"].set_index("event_date").loc[pd.Timestamp(day)]
    ka = after["marts.kpi_daily"].set_index("event_date").loc[pd.Timestamp(day)]
    assert ka.orders == kb.orders + 1
    assert ka.order_lines == kb.order_lines + 1
    assert ka["items"] == kb["items"] + 3
    assert Decimal(str(ka.revenue)) == Decimal(str(kb.revenue)) + row[1] * 3
    assert ka.dau == kb.dau and ka.sessions == kb.sessions
    with duckdb.connect(str(path), read_only=True) as con:
        order = con.execute(
            "SELECT lines, items, gross_revenue FROM marts.fct_orders WHERE order_id = 'late-order-1'"
        ).fetchone()
        assert order == (1, 3, row[1] * 3)

    # a late event of day D seen only when day D+1 runs: lookback_days=1 rebuilds D as well
    # (window passed through SHOPPER_DBT_* variables, as the Dagster assets do)
    add_late_purchase(path, day, 2)
    args, env = dbt_build_command(
        (day + dt.timedelta(days=1), day + dt.timedelta(days=2)), DbtBuildConfig(lookback_days=1)
    )
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        run_dbt(path, args)
    again = snapshot(path, list(DAILY_MARTS))
    assert_only_day_changed(after, again, day)
    k2 = again["marts.kpi_daily"].set_index("event_date").loc[pd.Timestamp(day)]
    assert k2.orders == ka.orders + 1


def _copy_event(con, source_sql: str, params: list, replace: str) -> None:
    """Insert a copy of one cleaned event with some columns replaced (a late delivery: in a lake part
    file of its own, as the lake writes one)."""
    event_id = con.execute(source_sql, params).fetchone()[0]
    part = f"part-late-{uuid.uuid4().hex[:12]}.parquet"
    con.execute(
        f"INSERT INTO lake.cleaned_events SELECT * REPLACE ({replace}, '{part}' AS _lake_part) "
        "FROM lake.cleaned_events WHERE event_id = ?",
        [event_id],
    )


def add_late_events(path) -> list[dt.date]:
    """Late deliveries that reach beyond their own day in the marts; returns the days they belong to.

    * a late ad click of a new campaign, a day before an order of the same user: the order's
      attribution (a later day) changes;
    * a late add_to_cart in a session of the first day without a cart: a cart abandoned that day;
    * a late purchase line of an existing order: its order, its user's LTV and the day's revenue.
    """
    d0, d1, d2 = days()
    with duckdb.connect(str(path)) as con:
        user, order_time = con.execute(
            "SELECT user_id, min(event_time) FROM lake.cleaned_events WHERE event_type = 'purchase' "
            "AND CAST(event_time AS DATE) = ? GROUP BY user_id ORDER BY user_id LIMIT 1",
            [d2],
        ).fetchone()
        _copy_event(
            con,
            "SELECT event_id FROM lake.cleaned_events WHERE event_type = 'ad_click' ORDER BY event_id LIMIT 1",
            [],
            f"""'late-click' AS event_id, '{user}' AS user_id, 'late-click-session' AS session_id,
                'cmp-late' AS campaign_id, TIMESTAMP '{order_time}' - INTERVAL 1 DAY AS event_time,
                date_trunc('hour', TIMESTAMP '{order_time}' - INTERVAL 1 DAY) AS event_hour""",
        )
        _copy_event(
            con,
            """SELECT event_id FROM lake.cleaned_events WHERE CAST(event_time AS DATE) = ? AND session_id NOT IN (
                   SELECT session_id FROM lake.cleaned_events WHERE event_type IN ('add_to_cart', 'purchase'))
               AND event_type = 'product_view' ORDER BY event_id LIMIT 1""",
            [d0],
            "'late-cart' AS event_id, 'add_to_cart' AS event_type, 1 AS quantity, 'product' AS page",
        )
        _copy_event(
            con,
            "SELECT event_id FROM lake.cleaned_events WHERE event_type = 'purchase' AND CAST(event_time AS DATE) = ? "
            "ORDER BY event_id LIMIT 1",
            [d1],
            "'late-line' AS event_id, 2 AS quantity",
        )
    return [d2 - dt.timedelta(days=1), d0, d1]


def assert_equals_full_refresh(inc, tmp_path) -> None:
    """Every table of the warehouse ``inc`` equals those of a copy rebuilt with --full-refresh."""
    full = copy_warehouse(inc, tmp_path / "full" / "shopper.duckdb")
    run_dbt(full, ["build", "--full-refresh"])
    incremental, refreshed = snapshot(inc), snapshot(full)
    assert set(incremental) == set(refreshed) == EXPECTED_TABLES
    for name in sorted(refreshed):
        assert_same_table(name, refreshed[name], incremental[name])


def test_late_events_incremental_equals_full_refresh(built_db, tmp_path):
    """Late events handled the way Dagster does (a run per day they belong to, with its window)
    leave exactly the tables of a full refresh - attribution of later days and the whole-history
    marts included."""
    inc = copy_warehouse(built_db[0], tmp_path / "inc" / "shopper.duckdb")
    before = snapshot(inc, ["marts.order_attribution", "marts.cart_abandonment_daily", "marts.customer_ltv"])
    for day in add_late_events(inc):
        run_dbt(inc, day_args(day))
    assert_equals_full_refresh(inc, tmp_path)
    # and the late events did change what they should have
    after = snapshot(inc, list(before))
    for name in before:
        assert not before[name].equals(after[name]), name
    attribution = after["marts.order_attribution"]
    assert (attribution.campaign_id == "cmp-late").any()
