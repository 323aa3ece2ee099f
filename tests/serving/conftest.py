"""A demo deployment for the read-side tests, made once per session by the real ``shopper demo``.

* ``demo``: the warehouse, Dagster instance and serving copy ``shopper demo`` leaves (2 days of
  5,000 events): the KPI marts are published, the analytics marts are not built (their models
  live on another branch), as a user would have it today.
* ``analytics``: a copy of that warehouse with the analytics marts added by hand (contract columns,
  known values, see analytics_marts.py) and published, so every endpoint and page has data.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pytest

from shopper_assets.serving.local import LocalServing
from shopper_assets.serving.marts import SERVED
from tests.serving import analytics_marts, browser
from tests.serving.servers import SHOPPER, local_env

DAYS = [date(2026, 11, 20), date(2026, 11, 21)]


@dataclass(frozen=True)
class Deployment:
    root: Path  # SHOPPER_DATA_DIR
    days: list[date]
    analytics: dict[str, list[tuple]] | None = None  # the hand-written analytics marts, when added

    @property
    def warehouse(self) -> Path:
        return self.root / "shopper.duckdb"

    def env(self, **extra: str) -> dict[str, str]:
        return local_env(self.root, **extra)


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Deployment:
    root = tmp_path_factory.mktemp("demo") / "data"
    command = [*SHOPPER, "demo", "--date", DAYS[0].isoformat(), "--days", str(len(DAYS)), "--events-per-day", "5000"]
    result = subprocess.run(command, env=local_env(root), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return Deployment(root, DAYS)


@pytest.fixture(scope="session")
def analytics(demo: Deployment, tmp_path_factory) -> Deployment:
    root = tmp_path_factory.mktemp("analytics") / "data"
    root.mkdir()
    shutil.copy(demo.warehouse, root / "shopper.duckdb")
    with duckdb.connect(str(root / "shopper.duckdb")) as con:
        listed = con.execute("SELECT product_id FROM marts.dim_products ORDER BY 1 LIMIT 4").fetchall()
        products = [r[0] for r in listed]
        data = analytics_marts.create(con, DAYS, products)
    with duckdb.connect(str(root / "shopper.duckdb"), read_only=True) as con:
        LocalServing(root / "serving").publish(con, SERVED, None, {"test": "analytics marts added by hand"})
    return Deployment(root, DAYS, data)


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium (Debian's) under Playwright, per module: Playwright's event loop is gone
    before other tests run Dagster in this process."""
    yield from browser.launch()


def pytest_terminal_summary(terminalreporter) -> None:
    if browser.taken:
        terminalreporter.write_line(f"Browser screenshots ({len(browser.taken)}): {browser.SCREENSHOTS}")
