"""The dbt models as Dagster assets: keys, groups, partitions, checks, and a real materialization."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest
from dagster import AssetKey, AssetSelection, DailyPartitionsDefinition, materialize

from shopper_assets.deployments import resources_for
from shopper_assets.serving.local import LocalServing
from shopper_assets.settings import Settings
from shopper_assets.transform import (
    DbtBuildConfig,
    dbt_build_args,
    dbt_build_command,
    dbt_resource,
    format_kpi_summary,
    kpi_summary,
)
from shopper_assets.transform.project import DBT_PROJECT_DIR
from tests.built import daily_partitions, shopper_dbt_assets, shopper_history_dbt_assets
from tests.transform.conftest import copy_warehouse, days

CONTRACT_KEYS = [
    "dim_users",
    "dim_products",
    "dim_dates",
    "fct_events",
    "fct_orders",
    "fct_sessions",
    "kpi_daily",
    "revenue_by_category_daily",
    "top_products_daily",
    "orders_per_hour",
    "funnel_daily",
]


def test_asset_keys_groups_and_partitions():
    keys = {k.to_user_string() for k in shopper_dbt_assets.keys}
    assert set(CONTRACT_KEYS) <= keys
    assert {"stg_events", "dim_categories", "dim_campaigns", "fct_order_items", "int_session_days"} <= keys
    groups = shopper_dbt_assets.group_names_by_key
    assert groups[AssetKey("stg_events")] == "staging"
    assert groups[AssetKey("int_user_days")] == "intermediate"
    assert groups[AssetKey("kpi_daily")] == "marts"
    assert groups[AssetKey("dim_users")] == "marts"
    assert shopper_dbt_assets.partitions_def == daily_partitions
    assert isinstance(shopper_dbt_assets.partitions_def, DailyPartitionsDefinition)
    assert shopper_dbt_assets.backfill_policy is not None
    # lineage: cleaned_events (hourly) -> stg_events, with the default daily -> hourly mapping
    assert AssetKey("cleaned_events") in shopper_dbt_assets.asset_deps[AssetKey("stg_events")]
    assert AssetKey("stg_events") in shopper_dbt_assets.asset_deps[AssetKey("fct_events")]


#: dbt tests configured with severity warn: they report, they do not gate the marts.
WARN_TESTS = {
    ("stg_ad_spend", "accepted_values_stg_ad_spend_currency__USD"),
    (
        "campaign_performance_daily",
        "relationships_campaign_performance_daily_campaign_id__campaign_id__ref_dim_campaigns_",
    ),
    ("campaign_performance_daily", "ratio_between_0_and_1_campaign_performance_daily_ctr"),
}


def test_dbt_tests_are_blocking_asset_checks():
    specs = [*shopper_dbt_assets.check_specs, *shopper_history_dbt_assets.check_specs]
    assert len(specs) >= 100
    by_asset = {(s.asset_key.to_user_string(), s.name) for s in specs}
    assert {(s.asset_key.to_user_string(), s.name) for s in specs if not s.blocking} == WARN_TESTS
    assert ("kpi_daily", "assert_revenue_reconciles") in by_asset
    assert ("funnel_daily", "assert_funnel_matches_kpi") in by_asset
    assert ("kpi_daily", "unique_kpi_daily_event_date") in by_asset
    assert ("order_attribution", "assert_attribution_credits_sum_to_one") in by_asset
    assert ("customer_ltv", "sums_match_customer_ltv_revenue__gross_revenue__ref_fct_orders_") in by_asset


def test_whole_history_marts_are_one_unpartitioned_asset():
    history = {k.to_user_string() for k in shopper_history_dbt_assets.keys}
    assert history == {
        "customer_ltv",
        "cohort_retention",
        "revenue_monthly",
        "revenue_by_weekday",
        "product_recommendations",
    }
    assert shopper_history_dbt_assets.partitions_def is None
    assert not history & {k.to_user_string() for k in shopper_dbt_assets.keys}
    # every check of a whole-history mart is in its own asset (its dbt tests carry the tag)
    assert {s.asset_key.to_user_string() for s in shopper_history_dbt_assets.check_specs} == history
    assert not {s.asset_key.to_user_string() for s in shopper_dbt_assets.check_specs} & history
    # a whole-history mart reads every day of the daily models it depends on
    assert AssetKey("fct_orders") in shopper_history_dbt_assets.asset_deps[AssetKey("customer_ltv")]


def test_build_args():
    day = dt.date(2026, 3, 2)
    window = (day, day + dt.timedelta(days=1))
    assert dbt_build_args(window, DbtBuildConfig()) == [
        "build",
        "--vars",
        '{"min_date": "2026-03-02", "max_date": "2026-03-03", "lookback_days": 0}',
    ]
    assert dbt_build_args(window, DbtBuildConfig(full_refresh=True)) == ["build", "--full-refresh"]
    assert dbt_build_args(None, DbtBuildConfig()) == ["build"]
    # the assets pass the window through the environment (keeps dbt's partial parsing)
    args, env = dbt_build_command(window, DbtBuildConfig(lookback_days=1))
    assert args == ["build"]
    assert env == {
        "SHOPPER_DBT_MIN_DATE": "2026-03-02",
        "SHOPPER_DBT_MAX_DATE": "2026-03-03",
        "SHOPPER_DBT_LOOKBACK_DAYS": "1",
    }
    args, env = dbt_build_command(window, DbtBuildConfig(full_refresh=True))
    assert args == ["build", "--full-refresh"] and not any(env.values())
    args, _ = dbt_build_command(window, DbtBuildConfig(window_as_vars=True))
    assert args[:2] == ["build", "--vars"]


def dbt_resources() -> dict:
    """What the dbt assets need: dbt, and the serving store they publish each build to."""
    return {"dbt": dbt_resource(), "serving": resources_for(Settings.from_env())["serving"]}


def local_warehouse(lake_db, folder, monkeypatch):
    """A copy of the built warehouse in ``folder``, which the local deployment points at."""
    db = copy_warehouse(lake_db, folder / "shopper.duckdb")
    monkeypatch.setenv("SHOPPER_ENV", "local")
    monkeypatch.setenv("SHOPPER_DATA_DIR", str(db.parent))
    monkeypatch.setenv("SHOPPER_DUCKDB_PATH", str(db))
    return db


@pytest.mark.slow
def test_materialize_a_day_through_dagster(lake_db, tmp_path, monkeypatch):
    """A fresh warehouse: materializing one daily partition builds that day and runs the checks."""
    db = local_warehouse(lake_db, tmp_path / "dagster", monkeypatch)
    day = days()[1]
    result = materialize([shopper_dbt_assets], partition_key=day.isoformat(), resources=dbt_resources())
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert set(CONTRACT_KEYS) <= materialized
    checks = result.get_asset_check_evaluations()
    assert len(checks) >= 50 and all(c.passed for c in checks)
    assert any(c.asset_key == AssetKey("kpi_daily") and c.check_name == "assert_revenue_reconciles" for c in checks)
    with duckdb.connect(str(db), read_only=True) as con:
        # the first run of a partition builds that day only
        assert con.execute("SELECT list(event_date) FROM marts.kpi_daily").fetchone()[0] == [day]
        summary = kpi_summary(con, day)
        assert kpi_summary(con, days()[0]) == {}
    assert summary["kpis"]["orders"] > 0 and summary["top_products"] and summary["funnel"]
    # the build was published for readers, and its materializations carry the day's rows
    published = LocalServing(Settings.from_env().serving_dir).current()
    assert published is not None and published.tables["kpi_daily"]["rows"] == 1
    by_key = {e.asset_key.to_user_string(): e.materialization for e in result.get_asset_materialization_events()}
    assert by_key["kpi_daily"].metadata["dagster/row_count"].value == 1
    assert by_key["orders_per_hour"].metadata["dagster/row_count"].value == 24
    assert by_key["kpi_daily"].metadata["serving_version"].value == published.name
    with duckdb.connect(str(db), read_only=True) as con:
        day_orders = con.execute("SELECT count(*) FROM marts.fct_orders WHERE order_date = ?", [day]).fetchone()[0]
    assert by_key["fct_orders"].metadata["dagster/row_count"].value == day_orders
    text = format_kpi_summary(summary)
    assert day.isoformat() in text and "Revenue" in text and "funnel" in text.lower()

    # the next run starts from this run's parse: its environment (the warehouse path) is the same
    again = materialize([shopper_dbt_assets], partition_key=days()[2].isoformat(), resources=dbt_resources())
    assert again.success
    (target,) = (DBT_PROJECT_DIR / "target").glob(f"shopper_dbt_assets-{again.run_id[:7]}-*")
    log = (target / "dbt.log").read_text()
    assert "Unable to do partial parsing" not in log and "Partial parsing enabled" in log


@pytest.mark.slow
def test_a_build_without_its_checks_runs_no_dbt_test(lake_db, tmp_path, monkeypatch):
    """What marts_follow_sensor's models-only builds run: every model, no dbt test, no check result."""
    db = local_warehouse(lake_db, tmp_path / "models_only", monkeypatch)
    day = days()[1]
    result = materialize(
        [shopper_dbt_assets],
        partition_key=day.isoformat(),
        resources=dbt_resources(),
        selection=AssetSelection.assets(shopper_dbt_assets).without_checks(),
    )
    assert result.success
    assert {e.asset_key for e in result.get_asset_materialization_events()} == set(shopper_dbt_assets.keys)
    assert result.get_asset_check_evaluations() == []
    (target,) = (DBT_PROJECT_DIR / "target").glob(f"shopper_dbt_assets-{result.run_id[:7]}-*")
    run_results = json.loads((target / "run_results.json").read_text())["results"]
    assert run_results and not [r for r in run_results if r["unique_id"].startswith("test.")]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT sum(orders) FROM marts.orders_per_hour").fetchone()[0] > 0


@pytest.mark.slow
def test_a_failed_build_is_not_published_and_the_next_one_publishes_it(lake_db, tmp_path, monkeypatch):
    """dbt fails on a bad row (a dbt test): readers keep the last published version; what the failed
    build wrote is published by the next successful build."""
    db = local_warehouse(lake_db, tmp_path / "failing", monkeypatch)
    first, second = days()[0].isoformat(), days()[1].isoformat()
    assert materialize([shopper_dbt_assets], partition_key=first, resources=dbt_resources()).success
    serving = LocalServing(Settings.from_env().serving_dir)
    good = serving.current()
    # a purchase line of quantity 0 fails fct_order_items' test; in a part file of its own, which the
    # fix below removes, as the lake replaces the part files of an hour it rebuilds
    with duckdb.connect(str(db)) as con:
        con.execute(
            f"""INSERT INTO lake.cleaned_events
                SELECT * REPLACE (0 AS quantity, 'evt-bad' AS event_id, 'part-bad.parquet' AS _lake_part)
                FROM lake.cleaned_events
                WHERE event_type = 'purchase' AND CAST(event_time AS DATE) = '{second}' LIMIT 1"""
        )
    failed = materialize([shopper_dbt_assets], partition_key=second, resources=dbt_resources(), raise_on_error=False)
    assert not failed.success
    assert serving.current() == good  # nothing of the failed build reaches readers
    reported = {e.asset_key.to_user_string() for e in failed.get_asset_materialization_events()}
    pending = set(json.loads((serving.root / "pending.json").read_text()))
    assert "fct_order_items" in reported and {"fct_order_items", "dim_products"} <= pending
    assert "kpi_daily" not in reported  # dbt skipped what the failed test gates

    with duckdb.connect(str(db)) as con:
        con.execute("DELETE FROM lake.cleaned_events WHERE event_id = 'evt-bad'")
    fixed = materialize(
        [shopper_dbt_assets],
        partition_key=second,
        resources=dbt_resources(),
        selection=AssetSelection.assets(shopper_dbt_assets) - AssetSelection.assets("dim_products"),
    )
    assert fixed.success
    published = serving.current()
    assert published != good and "dim_products" in published.source["exported"]  # pending, though not rebuilt
    assert not (serving.root / "pending.json").exists()
