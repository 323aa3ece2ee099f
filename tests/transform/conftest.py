"""Fixtures of the dbt layer tests: a DuckDB warehouse in a tmp dir with generated cleaned events.

The lake-only warehouse and the fully built one are made once per session; tests that change a
warehouse work on a copy. dbt always runs through ``dbt_resource()`` with SHOPPER_DUCKDB_PATH
pointing at the tmp file and its artifacts in the tmp dir, so nothing is written under data/.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from shopper_assets.generator import GeneratorConfig

#: 3 UTC days of ~30k events: sessions cross both midnights.
START = dt.date(2026, 3, 1)
DAYS = 3
EVENTS_PER_DAY = 30_000
SEED = 7


def days() -> list[dt.date]:
    return [START + dt.timedelta(days=i) for i in range(DAYS)]


def copy_warehouse(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst)
    wal = Path(f"{src}.wal")
    if wal.exists():
        shutil.copy(wal, Path(f"{dst}.wal"))
    return dst


def run_dbt(db_path: Path, args: list[str], *, expect_success: bool = True) -> list[dict]:
    """Run dbt through dbt_resource() on the given DuckDB file; returns run_results' results."""
    from shopper_assets.transform import dbt_resource

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SHOPPER_ENV", "local")
        mp.setenv("SHOPPER_DUCKDB_PATH", str(db_path))
        mp.setenv("SHOPPER_DATA_DIR", str(db_path.parent))
        invocation = dbt_resource().cli(args, target_path=db_path.parent / "dbt_target", raise_on_error=False)
        invocation.wait()
        results = invocation.get_artifact("run_results.json")["results"]
    failed = [r for r in results if r["status"] not in ("success", "pass")]
    if expect_success:
        assert invocation.is_successful() and not failed, "dbt failed:\n" + "\n".join(
            f"{r['unique_id']}: {r['status']} {r.get('message')}" for r in failed
        )
    return results


@pytest.fixture(scope="session")
def lake_db(tmp_path_factory) -> Path:
    """Warehouse holding only lake.cleaned_events, filled from the generator."""
    from shopper_assets.transform.warehouse import load_generated

    path = tmp_path_factory.mktemp("lake") / "shopper.duckdb"
    n = load_generated(path, GeneratorConfig(start=START, days=DAYS, events_per_day=EVENTS_PER_DAY, seed=SEED))
    assert n > DAYS * EVENTS_PER_DAY * 0.8
    return path


@pytest.fixture(scope="session")
def built_db(lake_db, tmp_path_factory) -> tuple[Path, list[dict]]:
    """A copy of lake_db after a full `dbt build` (no vars); also returns the run results."""
    path = copy_warehouse(lake_db, tmp_path_factory.mktemp("full") / "shopper.duckdb")
    results = run_dbt(path, ["build"])
    return path, results


@pytest.fixture
def connect():
    """Open read-only DuckDB connections that are closed after the test."""
    opened: list[duckdb.DuckDBPyConnection] = []

    def _open(path: Path, read_only: bool = True) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(path), read_only=read_only)
        opened.append(con)
        return con

    yield _open
    for con in opened:
        con.close()


@pytest.fixture(scope="session")
def events_df(lake_db):
    """The cleaned events as a DataFrame, money as integer cents for exact sums."""
    with duckdb.connect(str(lake_db), read_only=True) as con:
        df = con.execute(
            """SELECT event_id, event_type, event_time, CAST(event_time AS DATE) AS event_date, event_hour,
                      user_id, session_id, product_id, category, order_id, user_type, quantity,
                      CAST(round(price * 100) AS BIGINT) AS price_cents,
                      CAST(round(coalesce(discount_amount, 0) * 100) AS BIGINT) AS discount_cents
               FROM lake.cleaned_events"""
        ).df()
    return df
