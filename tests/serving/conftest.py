"""Deployments for the read-side tests, made once per session from the real ``shopper demo``.

* ``demo``: the warehouse, Dagster instance and serving copy ``shopper demo`` leaves: every mart
  built by dbt and published. Its size gives every endpoint and page real content: ten days from
  Saturday 2026-10-24 to Monday 2026-11-02 span two months (month-over-month growth), every weekday
  and three cohort weeks (retention a week and two weeks later), with enough orders for repeat
  customers, campaign attribution and products bought together.
* ``partial``: a copy of that warehouse without some marts, published, as a deployment where they
  are not built yet: the whole-history marts (their unpartitioned asset not materialized yet) and the
  marketing marts (a daily build of a subset of the models). Readers must say what to run.

Tests compare what readers show with the marts read straight from the warehouse
(:meth:`Deployment.sql`), never with values written here.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from shopper_assets.serving.local import LocalServing
from shopper_assets.serving.marts import SERVED
from tests.built import shopper_history_dbt_assets
from tests.serving import browser
from tests.serving.servers import SHOPPER, local_env

DAYS = [date(2026, 10, 24) + timedelta(days=n) for n in range(10)]
EVENTS_PER_DAY = 20_000  # ~1,100 orders: enough for products with several recommendations (min 3 orders a pair)

#: the served marts the whole-history asset builds, and those of the marketing models
WHOLE_HISTORY = tuple(sorted({key.to_user_string() for key in shopper_history_dbt_assets.keys} & set(SERVED)))
MARKETING = ("campaign_performance_daily", "order_attribution")


@dataclass(frozen=True)
class Deployment:
    root: Path  # SHOPPER_DATA_DIR
    days: list[date]
    not_built: tuple[str, ...] = ()  # served marts this deployment has not built
    output: str = ""  # what ``shopper demo`` printed
    errors: str = ""  # and on stderr

    @property
    def warehouse(self) -> Path:
        return self.root / "shopper.duckdb"

    def env(self, **extra: str) -> dict[str, str]:
        return local_env(self.root, **extra)

    def sql(self, query: str, params: list | None = None) -> list[tuple]:
        """Rows straight from the warehouse (DECIMAL as float, as readers return them)."""
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            rows = con.execute(query, params or []).fetchall()
        return [tuple(float(v) if isinstance(v, Decimal) else v for v in row) for row in rows]


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Deployment:
    root = tmp_path_factory.mktemp("demo") / "data"
    command = [
        *SHOPPER,
        "demo",
        "--date",
        DAYS[0].isoformat(),
        "--days",
        str(len(DAYS)),
        "--events-per-day",
        str(EVENTS_PER_DAY),
    ]
    result = subprocess.run(command, env=local_env(root), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return Deployment(root, DAYS, output=result.stdout, errors=result.stderr)


@pytest.fixture(scope="session")
def partial(demo: Deployment, tmp_path_factory) -> Deployment:
    root = tmp_path_factory.mktemp("partial") / "data"
    root.mkdir()
    shutil.copy(demo.warehouse, root / "shopper.duckdb")
    missing = (*WHOLE_HISTORY, *MARKETING)
    with duckdb.connect(str(root / "shopper.duckdb")) as con:
        for mart in missing:
            con.execute(f"DROP TABLE marts.{mart}")
    with duckdb.connect(str(root / "shopper.duckdb"), read_only=True) as con:
        LocalServing(root / "serving").publish(con, SERVED, None, {"test": "some marts not built yet"})
    return Deployment(root, DAYS, tuple(sorted(missing)))


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium (Debian's) under Playwright, per module: Playwright's event loop is gone
    before other tests run Dagster in this process."""
    yield from browser.launch()
