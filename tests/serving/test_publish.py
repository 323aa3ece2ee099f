"""The local serving copy: versions, what a publish exports or shares, types, old versions, and the
row counts a publish reports for the dbt materializations."""

from __future__ import annotations

import json
import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from shopper_assets.serving.local import CURRENT_CATALOG, LocalServing
from shopper_assets.serving.reader import LocalReader
from shopper_assets.serving.store import BuiltModel, LocalServingStore, PublishRequest

SERVED = ("kpi_daily", "orders_per_hour", "customer_ltv")


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "shopper.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute(
            """CREATE TABLE marts.kpi_daily AS SELECT * FROM (VALUES
                 (DATE '2026-11-20', CAST(10 AS HUGEINT), CAST(120.50 AS DECIMAL(38,2)), 0.25::DOUBLE),
                 (DATE '2026-11-21', CAST(12 AS HUGEINT), CAST(99.99 AS DECIMAL(38,2)), NULL::DOUBLE)
               ) t(event_date, orders, revenue, conversion_rate)"""
        )
        con.execute(
            """CREATE TABLE marts.orders_per_hour AS
               SELECT TIMESTAMP '2026-11-20 00:00' + INTERVAL (h) HOUR AS event_hour,
                      DATE '2026-11-20' AS event_date, h AS hour_of_day, h AS orders FROM range(24) r(h)"""
        )
    return path


def read(serving: Path, sql: str) -> list[tuple]:
    reader = LocalReader(LocalServing(serving))
    with reader.snapshot() as snapshot:
        rows = snapshot.execute(sql).fetchall()
    reader.close()
    return rows


def publish(serving: LocalServing, warehouse: Path, rebuilt: set[str] | None):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return serving.publish(con, SERVED, rebuilt, {"test": True})


def test_a_version_holds_the_marts_exactly_as_the_warehouse(tmp_path: Path, warehouse: Path):
    serving = LocalServing(tmp_path / "serving")
    assert serving.current() is None
    version = publish(serving, warehouse, None)
    assert serving.current() == version and set(version.tables) == {"kpi_daily", "orders_per_hour"}  # no customer_ltv
    assert read(tmp_path / "serving", "SELECT * FROM marts.kpi_daily ORDER BY 1") == [
        (date(2026, 11, 20), 10, Decimal("120.50"), 0.25),
        (date(2026, 11, 21), 12, Decimal("99.99"), None),
    ]
    types = read(tmp_path / "serving", "SELECT data_type FROM information_schema.columns WHERE table_name='kpi_daily'")
    assert [t for (t,) in types] == ["DATE", "HUGEINT", "DECIMAL(38,2)", "DOUBLE"]  # HUGEINT survives Parquet
    # ad-hoc readers: current.duckdb is the current catalog, readable by many processes at once
    with duckdb.connect(str(tmp_path / "serving" / CURRENT_CATALOG), read_only=True) as adhoc:
        assert adhoc.execute("SELECT sum(orders) FROM marts.orders_per_hour").fetchone()[0] == sum(range(24))
        assert adhoc.execute("SELECT version FROM serving.version").fetchone()[0] == version.name


def test_a_publish_exports_what_was_rebuilt_and_shares_the_rest(tmp_path: Path, warehouse: Path):
    serving = LocalServing(tmp_path / "serving")
    first = publish(serving, warehouse, None)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("UPDATE marts.kpi_daily SET orders = orders + 1")
        con.execute("UPDATE marts.orders_per_hour SET orders = 0")  # not announced as rebuilt: stays as published
    second = publish(serving, warehouse, {"kpi_daily"})
    assert second.source["exported"] == ["kpi_daily"]
    assert second.tables["orders_per_hour"]["file"] == first.tables["orders_per_hour"]["file"]
    assert second.tables["kpi_daily"]["file"] != first.tables["kpi_daily"]["file"]
    assert read(tmp_path / "serving", "SELECT sum(orders) FROM marts.kpi_daily") == [(24,)]
    assert read(tmp_path / "serving", "SELECT sum(orders) FROM marts.orders_per_hour") == [(sum(range(24)),)]


def test_a_failed_build_is_published_by_the_next_success(tmp_path: Path, warehouse: Path):
    serving = LocalServing(tmp_path / "serving")
    publish(serving, warehouse, None)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("UPDATE marts.orders_per_hour SET orders = 1")
    serving.note_unpublished(["orders_per_hour"])  # what dbt_publish does when dbt fails after writing it
    third = publish(serving, warehouse, {"kpi_daily"})
    assert sorted(third.source["exported"]) == ["kpi_daily", "orders_per_hour"]
    assert read(tmp_path / "serving", "SELECT sum(orders) FROM marts.orders_per_hour") == [(24,)]
    assert not (tmp_path / "serving" / "pending.json").exists()


def test_old_versions_stay_readable_for_a_while_then_go(tmp_path: Path, warehouse: Path):
    serving = LocalServing(tmp_path / "serving", keep_versions=2, keep_seconds=3600)
    versions = [publish(serving, warehouse, None) for _ in range(4)]
    held = duckdb.connect(str(serving.catalog(versions[0])), read_only=True)  # a reader of the first version
    assert all(serving.catalog(v).exists() for v in versions)  # all younger than keep_seconds

    impatient = LocalServing(tmp_path / "serving", keep_versions=2, keep_seconds=0)
    latest = publish(impatient, warehouse, None)
    left = sorted(p.stem for p in (tmp_path / "serving" / "versions").glob("*.json"))
    assert left == sorted([versions[-1].name, latest.name])
    manifests = [json.loads((tmp_path / "serving" / "versions" / f"{name}.json").read_text()) for name in left]
    used = {t["file"] for manifest in manifests for t in manifest["tables"].values()}
    files = {str(p.relative_to(tmp_path / "serving")) for p in (tmp_path / "serving" / "tables").rglob("*.parquet")}
    assert files == used  # no file of a dropped version is left, none in use is gone
    # the reader that opened the first version still has its catalog open (its Parquet files are gone:
    # readers resolve the current version per request, see reader.py)
    assert held.execute("SELECT version FROM serving.version").fetchone()[0] == versions[0].name
    held.close()
    assert os.readlink(tmp_path / "serving" / CURRENT_CATALOG).endswith(f"{latest.name}.duckdb")


def test_a_reader_follows_new_versions_and_lets_old_connections_go(tmp_path: Path, warehouse: Path):
    serving = LocalServing(tmp_path / "serving")
    reader = LocalReader(serving)
    with reader.snapshot() as empty:
        assert empty.version is None and not empty.marts
    first = publish(serving, warehouse, None)
    with reader.snapshot() as s1:
        second = publish(serving, warehouse, None)
        with reader.snapshot() as s2:
            assert (s1.version, s2.version) == (first.name, second.name)
            assert s1.execute("SELECT count(*) FROM marts.kpi_daily").fetchone() == (2,)
    with reader.snapshot():
        pass
    assert list(reader._open) == [second.name]  # the first version's connection was closed
    reader.close()


def test_the_store_counts_each_days_rows_of_what_was_built(tmp_path: Path, warehouse: Path):
    store = LocalServingStore(serving_dir=str(tmp_path / "serving"), duckdb_path=str(warehouse))
    result = store.publish(
        PublishRequest(
            built=(BuiltModel("kpi_daily", "marts", "event_date"), BuiltModel("orders_per_hour", "marts", None)),
            days=(date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)),
        )
    )
    assert result.counts == {
        "kpi_daily": {date(2026, 11, 20): 1, date(2026, 11, 21): 1, date(2026, 11, 22): 0},
        "orders_per_hour": {None: 24},
    }
    assert LocalServing(tmp_path / "serving").current().name == result.version
