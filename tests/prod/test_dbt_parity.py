"""The same dbt models on both targets: built from the same events on DuckDB (local) and on
Postgres (prod, dbt-postgres), every mart is identical."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pytest

from shopper_assets.generator import GeneratorConfig, write_landing
from shopper_assets.settings import Settings
from shopper_assets.transform import dbt_resource
from tests.prod.helpers import same_lake_locally_and_in_postgres

MARTS = [
    "kpi_daily",
    "revenue_by_category_daily",
    "top_products_daily",
    "orders_per_hour",
    "funnel_daily",
    "fct_orders",
    "fct_sessions",
    "dim_users",
    "dim_products",
    "top_brands_daily",
    "cart_abandonment_daily",
    "order_attribution",
    "campaign_performance_daily",
    "customer_ltv",
    "cohort_retention",
    "revenue_monthly",
    "revenue_by_weekday",
    "product_recommendations",
]
DAY = date(2026, 11, 20)
#: two small days hold few pairs bought together 3 times: recommend pairs of a single order too, so
#: the bought-together mart has many rows to compare
BUILD = ["build", "--vars", '{"recommendations_min_orders": 1}']


def normalise(rows: list[tuple]) -> list[tuple]:
    def value(v):
        if isinstance(v, float | Decimal):
            return round(float(v), 6)
        if isinstance(v, datetime):
            return v.replace(tzinfo=None)
        return v

    return sorted((tuple(value(v) for v in row) for row in rows), key=repr)


def test_marts_identical_on_duckdb_and_postgres(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    data = tmp_path / "data"
    write_landing(GeneratorConfig(start=DAY, days=2, events_per_day=4_000, seed=11), data, progress=False)
    start = datetime(DAY.year, DAY.month, DAY.day)
    same_lake_locally_and_in_postgres(data, start, start + timedelta(days=2), pg_url)

    # DuckDB, target local
    monkeypatch.setenv("SHOPPER_DATA_DIR", str(data))
    monkeypatch.setenv("SHOPPER_DUCKDB_PATH", str(data / "shopper.duckdb"))
    monkeypatch.delenv("SHOPPER_ENV", raising=False)
    dbt_resource(Settings.from_env()).cli(BUILD).wait()

    # Postgres, target prod, loaded with the same cleaned rows
    monkeypatch.setenv("SHOPPER_ENV", "prod")
    monkeypatch.setenv("SHOPPER_PG_URL", pg_url)
    for var in ("SHOPPER_PG_HOST", "SHOPPER_PG_PORT", "SHOPPER_PG_USER", "SHOPPER_PG_PASSWORD", "SHOPPER_PG_DBNAME"):
        monkeypatch.delenv(var, raising=False)
    dbt_resource(Settings.from_env()).cli(BUILD).wait()

    with duckdb.connect(str(data / "shopper.duckdb"), read_only=True) as local, psycopg.connect(pg_url) as pg:
        for mart in MARTS:
            cols = [
                r[0]
                for r in local.execute(
                    f"SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts' "
                    f"AND table_name = '{mart}' AND column_name <> '_loaded_at' ORDER BY ordinal_position"
                ).fetchall()
            ]
            assert cols, mart
            select = f"SELECT {', '.join(cols)} FROM marts.{mart}"
            duck_rows = normalise(local.execute(select).fetchall())
            pg_rows = normalise(pg.execute(select).fetchall())
            assert duck_rows == pg_rows, f"{mart} differs between DuckDB and Postgres"
            assert duck_rows, f"{mart} is empty"
    assert os.environ["SHOPPER_ENV"] == "prod"
