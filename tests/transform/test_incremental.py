"""dbt build passes; day-by-day incremental runs equal a full build; a late event moves one day."""

from __future__ import annotations

import datetime as dt
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
    "marts.orders_per_hour",
    "marts.funnel_daily",
)
EXPECTED_TABLES = {
    "intermediate.int_session_days",
    "intermediate.int_user_days",
    "intermediate.int_product_days",
    "intermediate.int_campaign_days",
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
}


def day_args(day: dt.date, **config) -> list[str]:
    return dbt_build_args((day, day + dt.timedelta(days=1)), DbtBuildConfig(**config))


def test_dbt_build_passes_its_tests(built_db, connect):
    path, results = built_db
    tests = [r for r in results if r["unique_id"].startswith("test.")]
    models = [r for r in results if r["unique_id"].startswith("model.")]
    assert len(models) == 19 and len(tests) >= 50
    assert all(r["status"] == "pass" for r in tests)
    names = {r["unique_id"].split(".")[2] for r in tests}
    assert {"assert_revenue_reconciles", "assert_funnel_matches_kpi"} <= names
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
                                  event_hour + INTERVAL 5 HOUR AS _landing_hour, 'late.jsonl.gz' AS _source_file)
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
