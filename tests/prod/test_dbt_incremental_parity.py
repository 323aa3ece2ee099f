"""The incremental path on both targets: day-by-day window builds (with a re-run of the first day
after the second, so rows are replaced, not only added) give on Postgres what a full build gives,
and the same rows as on DuckDB; then a new lake part folded in on Postgres (increments,
dbt/macros/increment.sql) still gives what a full build gives. test_dbt_parity.py only compares
first (full) builds."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import psycopg
import pytest

from shopper_assets.generator import GeneratorConfig, write_landing
from shopper_assets.settings import Settings
from shopper_assets.transform import DbtBuildConfig, dbt_build_command, dbt_resource
from tests.prod.helpers import same_lake_locally_and_in_postgres
from tests.prod.test_dbt_parity import normalise

DAY = date(2026, 11, 20)
#: one model of each way of writing: delete+insert by day (event grain, day grain, widened
#: windows), window_table (event grain) and window_table keyed (sessions, orders, users)
TABLES = [
    "marts.fct_events",
    "marts.fct_order_items",
    "intermediate.int_session_days",
    "intermediate.int_user_days",
    "intermediate.int_product_days",
    "intermediate.int_campaign_touches",
    "intermediate.int_campaign_days",
    "marts.kpi_daily",
    "marts.cart_abandonment_daily",
    "marts.order_attribution",
    "marts.campaign_performance_daily",
    "marts.fct_sessions",
    "marts.fct_orders",
    "marts.dim_users",
]
DAILY = ["--exclude", "tag:whole_history tag:data_quality"]


def build_days(days: list[date], monkeypatch: pytest.MonkeyPatch) -> None:
    """Daily builds as the Dagster assets run them (the window in SHOPPER_DBT_*)."""
    dbt = dbt_resource(Settings.from_env())
    for day in days:
        args, env = dbt_build_command((day, day + timedelta(days=1)), DbtBuildConfig())
        with monkeypatch.context() as mp:
            for name, value in env.items():
                mp.setenv(name, value)
            assert dbt.cli([*args, *DAILY], raise_on_error=False).wait().is_successful(), day


def columns(local: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The table's columns but the load time, which differs between two builds by design."""
    schema, name = table.split(".")
    return [
        r[0]
        for r in local.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
            "AND column_name <> '_loaded_at' ORDER BY ordinal_position",
            [schema, name],
        ).fetchall()
    ]


def test_day_builds_identical_on_duckdb_and_postgres_and_to_a_full_build(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    data = tmp_path / "data"
    write_landing(GeneratorConfig(start=DAY, days=2, events_per_day=3_000, seed=7), data, progress=False)
    start = datetime(DAY.year, DAY.month, DAY.day)
    same_lake_locally_and_in_postgres(data, start, start + timedelta(days=2), pg_url)
    days = [DAY, DAY + timedelta(days=1), DAY]

    monkeypatch.setenv("SHOPPER_DATA_DIR", str(data))
    monkeypatch.setenv("SHOPPER_DUCKDB_PATH", str(data / "shopper.duckdb"))
    monkeypatch.delenv("SHOPPER_ENV", raising=False)
    build_days(days, monkeypatch)

    monkeypatch.setenv("SHOPPER_ENV", "prod")
    monkeypatch.setenv("SHOPPER_PG_URL", pg_url)
    for var in ("SHOPPER_PG_HOST", "SHOPPER_PG_PORT", "SHOPPER_PG_USER", "SHOPPER_PG_PASSWORD", "SHOPPER_PG_DBNAME"):
        monkeypatch.delenv(var, raising=False)
    build_days(days, monkeypatch)

    with duckdb.connect(str(data / "shopper.duckdb"), read_only=True) as local, psycopg.connect(pg_url) as pg:
        selects = {table: f"SELECT {', '.join(columns(local, table))} FROM {table}" for table in TABLES}
        incremental = {table: normalise(pg.execute(select).fetchall()) for table, select in selects.items()}
        for table, select in selects.items():
            assert incremental[table], f"{table} is empty"
            assert normalise(local.execute(select).fetchall()) == incremental[table], f"{table}: DuckDB != Postgres"

    with psycopg.connect(pg_url) as pg:
        add_early_view_part(pg)
    build_days([DAY], monkeypatch)  # folds the new part into every incremental model
    with psycopg.connect(pg_url) as pg:
        folded = {table: normalise(pg.execute(select).fetchall()) for table, select in selects.items()}
        assert folded != incremental
        (through,) = pg.execute(
            "SELECT count(DISTINCT loaded_through) FROM shopper_increments WHERE event_date = %s", [DAY]
        ).fetchone()  # the profile's schema (public)
        assert through == 1  # every model folded the same (new) load

    full = dbt_resource(Settings.from_env()).cli(["build", "--full-refresh", *DAILY], raise_on_error=False).wait()
    assert full.is_successful()
    with psycopg.connect(pg_url) as pg:
        for table, select in selects.items():
            assert normalise(pg.execute(select).fetchall()) == folded[table], f"{table}: day builds != full build"


def add_early_view_part(pg: psycopg.Connection) -> None:
    """A new part file in the Postgres lake (as sync_parts loads one): a page view a second before a
    campaign arrival's ad click (the slice's first event moves, the arrival becomes a listing click)
    and a second click of that campaign."""
    cols = [
        c
        for (c,) in pg.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'lake' "
            "AND table_name = 'cleaned_events' ORDER BY ordinal_position"
        ).fetchall()
    ]
    click = pg.execute(
        """SELECT e.event_id FROM lake.cleaned_events AS e
           WHERE e.event_type = 'ad_click' AND e.campaign_id IS NOT NULL AND e.event_time::date = %s
             AND e.event_time - interval '1 second' >= date_trunc('hour', e.event_time)
             AND e.event_time = (SELECT min(f.event_time) FROM lake.cleaned_events AS f
                                 WHERE f.session_id = e.session_id AND f.event_time::date = %s)
           ORDER BY e.event_id LIMIT 1""",
        [DAY, DAY],
    ).fetchone()[0]
    early = {
        "event_id": "'early-view'",
        "event_type": "'page_view'",
        "campaign_id": "NULL",
        "ad_id": "NULL",
        "event_time": "event_time - interval '1 second'",
        "_lake_part": "'part-early-view.parquet'",
    }
    second = {
        "event_id": "'second-click'",
        "event_time": "event_time + interval '1 second'",
        "_lake_part": "'part-early-view.parquet'",
    }
    listed = ", ".join(cols)
    for replaced in (early, second):
        select = ", ".join(f"{replaced.get(c, c)} AS {c}" for c in cols)
        pg.execute(
            f"INSERT INTO lake.cleaned_events ({listed}) SELECT {select} FROM lake.cleaned_events WHERE event_id = %s",
            [click],
        )
